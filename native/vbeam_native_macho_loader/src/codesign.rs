//! Embedded code signatures (`osfmk/kern/cs_blobs.h`): checking an ad-hoc
//! signature as XNU does (`cs_validate_csblob`, `cs_validate_codedirectory`,
//! then every page hash), and re-hashing a mutated image for tests.
//!
//! Every field inside the signature is big-endian.

use sha2::{Digest, Sha256};

use crate::error::{bad_signature, malformed, LoadError};
use crate::macho::consts::LC_CODE_SIGNATURE;
use crate::macho::{self, Arch, MachO};
use crate::reader::{be_u32, be_u64, c_string, le_u32};

const CSMAGIC_EMBEDDED_SIGNATURE: u32 = 0xfade_0cc0;
const CSMAGIC_CODEDIRECTORY: u32 = 0xfade_0c02;
const CSSLOT_CODEDIRECTORY: u32 = 0;

const CS_HASHTYPE_SHA256: u8 = 2;
const CS_SHA256_LEN: u8 = 32;
/// The code directory flag of an ad-hoc signature (no CMS signer).
const CS_ADHOC: u32 = 0x2;
const CS_EXECSEG_MAIN_BINARY: u64 = 0x1;

/// `pageSize` is log2 of the hashed page: 4 KiB everywhere, 16 KiB on arm64.
const PAGE_SHIFT_4K: u8 = 12;
const PAGE_SHIFT_16K: u8 = 14;

/// CodeDirectory versions that add fields.
const CS_SUPPORTSSCATTER: u32 = 0x20100;
const CS_SUPPORTSTEAMID: u32 = 0x20200;
const CS_SUPPORTSCODELIMIT64: u32 = 0x20300;
const CS_SUPPORTSEXECSEG: u32 = 0x20400;
const CS_SUPPORTSRUNTIME: u32 = 0x20500;
const CS_SUPPORTSLINKAGE: u32 = 0x20600;

/// The size of the fixed CodeDirectory header for each version.
fn header_size(version: u32) -> usize {
    match version {
        v if v >= CS_SUPPORTSLINKAGE => 108,
        v if v >= CS_SUPPORTSRUNTIME => 96,
        v if v >= CS_SUPPORTSEXECSEG => 88,
        v if v >= CS_SUPPORTSCODELIMIT64 => 64,
        v if v >= CS_SUPPORTSTEAMID => 52,
        v if v >= CS_SUPPORTSSCATTER => 48,
        _ => 44,
    }
}

/// Field offsets in a SuperBlob and a CodeDirectory.
mod field {
    pub const BLOB_MAGIC: usize = 0;
    pub const BLOB_LENGTH: usize = 4;
    pub const SUPERBLOB_COUNT: usize = 8;
    pub const SUPERBLOB_INDEX: usize = 12;
    pub const BLOB_INDEX_SIZE: usize = 8;
    pub const CD_VERSION: usize = 8;
    pub const CD_FLAGS: usize = 12;
    pub const CD_HASH_OFFSET: usize = 16;
    pub const CD_IDENT_OFFSET: usize = 20;
    pub const CD_N_SPECIAL_SLOTS: usize = 24;
    pub const CD_N_CODE_SLOTS: usize = 28;
    pub const CD_CODE_LIMIT: usize = 32;
    pub const CD_HASH_SIZE: usize = 36;
    pub const CD_HASH_TYPE: usize = 37;
    pub const CD_PAGE_SIZE: usize = 39;
    pub const CD_SCATTER_OFFSET: usize = 44;
    pub const CD_TEAM_OFFSET: usize = 48;
    pub const CD_CODE_LIMIT_64: usize = 56;
    pub const CD_EXEC_SEG_BASE: usize = 64;
    pub const CD_EXEC_SEG_LIMIT: usize = 72;
    pub const CD_EXEC_SEG_FLAGS: usize = 80;
    /// `linkage_command` is not used by the loader; only its bounds are.
    pub const CD_LINKAGE_HASH_TYPE: usize = 96;
    pub const CD_LINKAGE_OFFSET: usize = 100;
    pub const CD_LINKAGE_SIZE: usize = 104;
}

/// A CodeDirectory whose offsets have been checked against its length.
struct CodeDirectory<'a> {
    /// The CodeDirectory blob, exactly `length` bytes.
    bytes: &'a [u8],
    /// Where the blob starts in the file.
    file_offset: usize,
    version: u32,
    flags: u32,
    hash_offset: usize,
    n_code_slots: u32,
    code_limit: u64,
    page_shift: u8,
}

impl CodeDirectory<'_> {
    fn hash_slot(&self, page: u32) -> std::ops::Range<usize> {
        let start = self.hash_offset + page as usize * usize::from(CS_SHA256_LEN);
        start..start + usize::from(CS_SHA256_LEN)
    }
}

/// The signature's place in the file, from `LC_CODE_SIGNATURE`.
fn signature_range(data: &[u8]) -> Option<(usize, usize)> {
    macho::raw_commands(data).into_iter().find(|&(_, cmd, _)| cmd == LC_CODE_SIGNATURE).and_then(|(offset, _, _)| {
        let dataoff = le_u32(data, offset + 8)? as usize;
        let datasize = le_u32(data, offset + 12)? as usize;
        Some((dataoff, datasize))
    })
}

/// Finds and checks the CodeDirectory in slot 0 of the SuperBlob at
/// `sig_offset`, with XNU's bounds checks.
fn code_directory(data: &[u8], sig_offset: usize, sig_size: usize, arch: Arch) -> Result<CodeDirectory<'_>, LoadError> {
    let sig = data
        .get(sig_offset..sig_offset.saturating_add(sig_size))
        .ok_or_else(|| bad_signature!("LC_CODE_SIGNATURE (0x{sig_offset:x}+0x{sig_size:x}) extends beyond the file"))?;
    let read =
        |off: usize, what: &str| be_u32(sig, off).ok_or_else(|| bad_signature!("SuperBlob too short for its {what}"));
    let magic = read(field::BLOB_MAGIC, "magic")?;
    if magic != CSMAGIC_EMBEDDED_SIGNATURE {
        return Err(bad_signature!("SuperBlob magic 0x{magic:08x}, expected 0x{CSMAGIC_EMBEDDED_SIGNATURE:08x}"));
    }
    let length = read(field::BLOB_LENGTH, "length")? as usize;
    if length > sig.len() || length < field::SUPERBLOB_INDEX {
        return Err(bad_signature!("SuperBlob length {length} does not fit LC_CODE_SIGNATURE's {} bytes", sig.len()));
    }
    let sig = &sig[..length];
    let count = read(field::SUPERBLOB_COUNT, "count")? as usize;
    if (length - field::SUPERBLOB_INDEX) / field::BLOB_INDEX_SIZE < count {
        return Err(bad_signature!("SuperBlob index of {count} entries does not fit its length {length}"));
    }
    let mut directory = None;
    for n in 0..count {
        let entry = field::SUPERBLOB_INDEX + n * field::BLOB_INDEX_SIZE;
        let (kind, offset) = (read(entry, "index")?, read(entry + 4, "index")? as usize);
        let sub_length =
            be_u32(sig, offset + field::BLOB_LENGTH).map(|l| l as usize).filter(|&l| offset + l <= length).ok_or_else(
                || bad_signature!("blob {n} (type 0x{kind:x}) at offset {offset} extends beyond the SuperBlob"),
            )?;
        if kind == CSSLOT_CODEDIRECTORY {
            if directory.is_some() {
                return Err(bad_signature!("more than one CodeDirectory in slot 0"));
            }
            directory = Some((offset, sub_length));
        }
    }
    let (cd_offset, cd_length) =
        directory.ok_or_else(|| bad_signature!("no CodeDirectory in slot 0 of the SuperBlob"))?;
    parse_code_directory(&sig[cd_offset..cd_offset + cd_length], sig_offset + cd_offset, arch)
}

fn parse_code_directory(cd: &[u8], file_offset: usize, arch: Arch) -> Result<CodeDirectory<'_>, LoadError> {
    let word =
        |off: usize| be_u32(cd, off).ok_or_else(|| bad_signature!("CodeDirectory too short ({} bytes)", cd.len()));
    let byte =
        |off: usize| cd.get(off).copied().ok_or_else(|| bad_signature!("CodeDirectory too short ({} bytes)", cd.len()));
    let magic = word(field::BLOB_MAGIC)?;
    if magic != CSMAGIC_CODEDIRECTORY {
        return Err(bad_signature!(
            "slot 0 magic 0x{magic:08x} is not a CodeDirectory (0x{CSMAGIC_CODEDIRECTORY:08x})"
        ));
    }
    let version = word(field::CD_VERSION)?;
    if cd.len() < header_size(version) {
        return Err(bad_signature!("CodeDirectory of version 0x{version:x} is too short ({} bytes)", cd.len()));
    }
    let page_shift = byte(field::CD_PAGE_SIZE)?;
    let shift_allowed = page_shift == PAGE_SHIFT_4K || (arch == Arch::Arm64 && page_shift == PAGE_SHIFT_16K);
    if !shift_allowed {
        return Err(bad_signature!(
            "unsupported page size field {page_shift} (the {} kernel takes 12{})",
            arch.name(),
            if arch == Arch::Arm64 { " or 14" } else { "" }
        ));
    }
    let hash_type = byte(field::CD_HASH_TYPE)?;
    let hash_size = byte(field::CD_HASH_SIZE)?;
    if hash_type != CS_HASHTYPE_SHA256 || hash_size != CS_SHA256_LEN {
        return Err(bad_signature!("hash type {hash_type} of size {hash_size}; expected SHA-256 (type {CS_HASHTYPE_SHA256}, size {CS_SHA256_LEN})"));
    }
    let hash_offset = word(field::CD_HASH_OFFSET)? as usize;
    let n_special = word(field::CD_N_SPECIAL_SLOTS)? as usize;
    let n_code_slots = word(field::CD_N_CODE_SLOTS)?;
    let hash_len = usize::from(CS_SHA256_LEN);
    if hash_offset > cd.len() || hash_offset / hash_len < n_special {
        return Err(bad_signature!(
            "hash offset {hash_offset} and {n_special} special slots do not fit the CodeDirectory"
        ));
    }
    if (cd.len() - hash_offset) / hash_len < n_code_slots as usize {
        return Err(bad_signature!("{n_code_slots} code slots do not fit the CodeDirectory"));
    }
    if version >= CS_SUPPORTSSCATTER && word(field::CD_SCATTER_OFFSET)? != 0 {
        return Err(LoadError::Unsupported("code signatures with a scatter vector".into()));
    }
    let ident_offset = word(field::CD_IDENT_OFFSET)? as usize;
    if ident_offset == 0 || c_string(cd, ident_offset).is_none() {
        return Err(bad_signature!(
            "identifier at offset {ident_offset} is not a NUL-terminated string inside the CodeDirectory"
        ));
    }
    if version >= CS_SUPPORTSTEAMID {
        let team_offset = word(field::CD_TEAM_OFFSET)? as usize;
        if team_offset != 0 && c_string(cd, team_offset).is_none() {
            return Err(bad_signature!(
                "team identifier at offset {team_offset} is not NUL-terminated inside the CodeDirectory"
            ));
        }
    }
    if version >= CS_SUPPORTSLINKAGE && byte(field::CD_LINKAGE_HASH_TYPE)? != 0 {
        let start = word(field::CD_LINKAGE_OFFSET)? as usize;
        let size = word(field::CD_LINKAGE_SIZE)? as usize;
        if start.checked_add(size).is_none_or(|end| end > cd.len()) {
            return Err(bad_signature!("linkage data extends beyond the CodeDirectory"));
        }
    }
    let code_limit = u64::from(word(field::CD_CODE_LIMIT)?);
    if version >= CS_SUPPORTSCODELIMIT64 {
        let limit64 = be_u64(cd, field::CD_CODE_LIMIT_64).unwrap_or(0);
        if limit64 != 0 && limit64 != code_limit {
            return Err(bad_signature!("codeLimit64 0x{limit64:x} disagrees with codeLimit 0x{code_limit:x}"));
        }
    }
    Ok(CodeDirectory {
        bytes: cd,
        file_offset,
        version,
        flags: word(field::CD_FLAGS)?,
        hash_offset,
        n_code_slots,
        code_limit,
        page_shift,
    })
}

/// The first mismatching page, if any.
fn first_bad_page(data: &[u8], cd: &CodeDirectory) -> Option<u32> {
    let page = 1usize << cd.page_shift;
    let limit = cd.code_limit as usize;
    (0..cd.n_code_slots).find(|&i| {
        let start = i as usize * page;
        let bytes = &data[start..(start + page).min(limit)];
        Sha256::digest(bytes).as_slice() != &cd.bytes[cd.hash_slot(i)]
    })
}

/// Checks the image's signature as the kernel would, returning the cdhash
/// (the first 20 bytes of the CodeDirectory's SHA-256); `Ok(None)` if the
/// image has no `LC_CODE_SIGNATURE`.
pub(crate) fn verify_image(image: &MachO) -> Result<Option<[u8; CDHASH_LEN]>, LoadError> {
    let data = image.data;
    let Some(blob) = image.linkedit(LC_CODE_SIGNATURE) else { return Ok(None) };
    let (sig_offset, sig_size) = (blob.offset as usize, blob.size as usize);
    if sig_offset % SIGNATURE_ALIGN != 0 {
        return Err(malformed!("code signature offset 0x{sig_offset:x} is not {SIGNATURE_ALIGN}-byte aligned"));
    }
    let linkedit = image.segment("__LINKEDIT").ok_or_else(|| malformed!("missing __LINKEDIT segment"))?;
    if (sig_offset as u64) < linkedit.fileoff || (sig_offset + sig_size) as u64 > linkedit.file_end() {
        return Err(malformed!("code signature (0x{sig_offset:x}+0x{sig_size:x}) is not inside __LINKEDIT"));
    }
    if sig_offset + sig_size != data.len() {
        return Err(malformed!(
            "the file must end with the code signature (ends at 0x{:x}, file is 0x{:x} bytes)",
            sig_offset + sig_size,
            data.len()
        ));
    }
    let cd = code_directory(data, sig_offset, sig_size, image.arch)?;
    if cd.flags & CS_ADHOC == 0 {
        return Err(LoadError::Unsupported(format!(
            "CodeDirectory flags 0x{:x} are not ad-hoc: a signer's certificate chain cannot be checked here",
            cd.flags
        )));
    }
    if cd.code_limit != sig_offset as u64 {
        return Err(bad_signature!(
            "codeLimit 0x{:x} is not the signature's file offset 0x{sig_offset:x}",
            cd.code_limit
        ));
    }
    let page = 1u64 << cd.page_shift;
    let slots = cd.code_limit.div_ceil(page);
    if u64::from(cd.n_code_slots) != slots {
        return Err(bad_signature!(
            "nCodeSlots {} but codeLimit 0x{:x} spans {slots} pages of {page} bytes",
            cd.n_code_slots,
            cd.code_limit
        ));
    }
    if cd.version >= CS_SUPPORTSEXECSEG {
        let text = image.segment("__TEXT").ok_or_else(|| malformed!("missing __TEXT segment"))?;
        let base = be_u64(cd.bytes, field::CD_EXEC_SEG_BASE).unwrap_or(0);
        let limit = be_u64(cd.bytes, field::CD_EXEC_SEG_LIMIT).unwrap_or(0);
        let flags = be_u64(cd.bytes, field::CD_EXEC_SEG_FLAGS).unwrap_or(0);
        if base != text.fileoff || limit != text.filesize {
            return Err(bad_signature!(
                "execSegBase/execSegLimit 0x{base:x}/0x{limit:x} are not __TEXT's fileoff/filesize 0x{:x}/0x{:x}",
                text.fileoff,
                text.filesize
            ));
        }
        if flags & CS_EXECSEG_MAIN_BINARY == 0 {
            return Err(bad_signature!("execSegFlags 0x{flags:x} lack CS_EXECSEG_MAIN_BINARY"));
        }
    }
    if let Some(bad) = first_bad_page(data, &cd) {
        let start = u64::from(bad) * page;
        return Err(bad_signature!(
            "page {bad} (file bytes 0x{start:x}..0x{:x}) does not match its hash",
            (start + page).min(cd.code_limit)
        ));
    }
    let digest = Sha256::digest(cd.bytes);
    let mut cdhash = [0; CDHASH_LEN];
    cdhash.copy_from_slice(&digest[..CDHASH_LEN]);
    Ok(Some(cdhash))
}

/// A cdhash is a code directory hash truncated to 20 bytes.
pub(crate) const CDHASH_LEN: usize = 20;
/// dyld: the signature is pointer-aligned in `__LINKEDIT`.
const SIGNATURE_ALIGN: usize = 8;

/// Checks the image's code signature: structure, placement, and every page
/// hash. An image without `LC_CODE_SIGNATURE` is refused.
pub fn verify(image: &[u8]) -> Result<(), LoadError> {
    let parsed = macho::parse(image)?;
    match verify_image(&parsed)? {
        Some(_) => Ok(()),
        None => Err(bad_signature!("the image has no LC_CODE_SIGNATURE")),
    }
}

/// Recomputes, in place, every page hash of the image's existing
/// CodeDirectory over the current bytes, so a test can mutate a signed
/// image and still have it pass the signature check. The load commands may
/// be invalid; only `LC_CODE_SIGNATURE` and the CodeDirectory are read.
///
/// # Panics
/// If the image has no readable `LC_CODE_SIGNATURE` / CodeDirectory: it is
/// a test helper, and its caller's premise is broken.
pub fn resign(image: &mut [u8]) {
    let arch = match le_u32(image, 4) {
        Some(macho::consts::CPU_TYPE_ARM64) => Arch::Arm64,
        _ => Arch::X86_64,
    };
    let (sig_offset, sig_size) = signature_range(image).expect("resign: the image has no LC_CODE_SIGNATURE");
    let (cd_start, hash_offset, n_code_slots, code_limit, page_shift) = {
        let cd = code_directory(image, sig_offset, sig_size, arch).unwrap_or_else(|e| panic!("resign: {e}"));
        (cd.file_offset, cd.hash_offset, cd.n_code_slots, cd.code_limit as usize, cd.page_shift)
    };
    assert!(code_limit <= image.len(), "resign: codeLimit beyond the file");
    let page = 1usize << page_shift;
    let hash_len = usize::from(CS_SHA256_LEN);
    for i in 0..n_code_slots as usize {
        let start = i * page;
        let end = (start + page).min(code_limit);
        let digest = Sha256::digest(&image[start.min(end)..end]);
        let slot = cd_start + hash_offset + i * hash_len;
        image[slot..slot + hash_len].copy_from_slice(&digest);
    }
}
