//! Ad-hoc code signatures for Mach-O executables, as the linker writes
//! them (`osfmk/kern/cs_blobs.h`): a SuperBlob holding one CodeDirectory
//! with the SHA-256 of every 4 KiB page of the file before the signature.
//! arm64 macOS kills an unsigned executable at exec; an ad-hoc signature
//! (no certificate) is enough. Every field is big-endian.

use sha2::{Digest, Sha256};

const CSMAGIC_EMBEDDED_SIGNATURE: u32 = 0xfade_0cc0;
const CSMAGIC_CODEDIRECTORY: u32 = 0xfade_0c02;
const CSSLOT_CODEDIRECTORY: u32 = 0;
/// The version with the executable-segment fields.
const CS_SUPPORTSEXECSEG: u32 = 0x20400;
const CS_ADHOC: u32 = 0x2;
const CS_LINKER_SIGNED: u32 = 0x2_0000;
const CS_HASHTYPE_SHA256: u8 = 2;
const CS_EXECSEG_MAIN_BINARY: u64 = 0x1;
const HASH_SIZE: usize = 32;
const PAGE_SIZE_LOG2: u8 = 12;
const PAGE_SIZE: usize = 1 << PAGE_SIZE_LOG2;

const SUPER_BLOB_HEADER: usize = 12;
const BLOB_INDEX: usize = 8;
/// The CodeDirectory's fixed fields, up to `execSegFlags`.
const CODE_DIRECTORY_HEADER: usize = 88;

/// Size of the signature of a file whose first `code_limit` bytes are
/// signed, with an identifier of `identifier_len` bytes.
pub fn size(code_limit: usize, identifier_len: usize) -> usize {
    SUPER_BLOB_HEADER + BLOB_INDEX + code_directory_size(code_limit, identifier_len)
}

fn code_directory_size(code_limit: usize, identifier_len: usize) -> usize {
    CODE_DIRECTORY_HEADER + identifier_len + 1 + HASH_SIZE * code_limit.div_ceil(PAGE_SIZE)
}

/// Writes the signature of `file[..code_limit]` at `file[code_limit..]`,
/// which `size` bytes were reserved for. `exec_base` and `exec_limit` are
/// `__TEXT`'s file offset and size.
pub fn sign(file: &mut [u8], code_limit: usize, identifier: &str, exec_base: u64, exec_limit: u64) {
    let directory_size = code_directory_size(code_limit, identifier.len());
    let total = size(code_limit, identifier.len());
    let mut blob = Vec::with_capacity(total);
    let u32 = |b: &mut Vec<u8>, v: u32| b.extend_from_slice(&v.to_be_bytes());
    let u64 = |b: &mut Vec<u8>, v: u64| b.extend_from_slice(&v.to_be_bytes());
    u32(&mut blob, CSMAGIC_EMBEDDED_SIGNATURE);
    u32(&mut blob, total as u32);
    u32(&mut blob, 1); // count
    u32(&mut blob, CSSLOT_CODEDIRECTORY);
    u32(&mut blob, (SUPER_BLOB_HEADER + BLOB_INDEX) as u32);

    let identifier_offset = CODE_DIRECTORY_HEADER;
    let hash_offset = identifier_offset + identifier.len() + 1;
    u32(&mut blob, CSMAGIC_CODEDIRECTORY);
    u32(&mut blob, directory_size as u32);
    u32(&mut blob, CS_SUPPORTSEXECSEG);
    u32(&mut blob, CS_ADHOC | CS_LINKER_SIGNED);
    u32(&mut blob, hash_offset as u32);
    u32(&mut blob, identifier_offset as u32);
    u32(&mut blob, 0); // nSpecialSlots
    u32(&mut blob, code_limit.div_ceil(PAGE_SIZE) as u32); // nCodeSlots
    u32(&mut blob, code_limit as u32);
    blob.extend_from_slice(&[HASH_SIZE as u8, CS_HASHTYPE_SHA256, 0, PAGE_SIZE_LOG2]); // hashSize hashType platform pageSize
    u32(&mut blob, 0); // spare2
    u32(&mut blob, 0); // scatterOffset
    u32(&mut blob, 0); // teamOffset
    u32(&mut blob, 0); // spare3
    u64(&mut blob, 0); // codeLimit64: the 32-bit field suffices
    u64(&mut blob, exec_base);
    u64(&mut blob, exec_limit);
    u64(&mut blob, CS_EXECSEG_MAIN_BINARY);
    debug_assert_eq!(blob.len(), SUPER_BLOB_HEADER + BLOB_INDEX + CODE_DIRECTORY_HEADER);
    blob.extend_from_slice(identifier.as_bytes());
    blob.push(0);
    for page in file[..code_limit].chunks(PAGE_SIZE) {
        blob.extend_from_slice(&Sha256::digest(page));
    }
    debug_assert_eq!(blob.len(), total);
    file[code_limit..code_limit + total].copy_from_slice(&blob);
}
