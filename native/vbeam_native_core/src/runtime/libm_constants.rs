//! The numbers of the math routines (`libm`): the polynomials'
//! coefficients, ln 2, pi/2 and the bits of 2/pi, as binary64 bit patterns
//! (double-doubles as pairs, high part first). The testkit's interpreter
//! computes the same algorithm in its own code, and must agree bit for
//! bit: it reads these same numbers.

pub const SPLITTER: f64 = 134_217_729.0;
/// 1.5 * 2^52: adding it rounds to an integer.
pub const SHIFTER: f64 = 6_755_399_441_055_744.0;
pub const LN2_HI: u64 = 0x3fe6_2e42_fefa_3800;
pub const LN2_MID: u64 = 0x3d2e_f357_93c7_6000;
pub const LN2_LO: u64 = 0x3a8c_c01f_97b5_7a08;
pub const INV_LN2: u64 = 0x3ff7_1547_652b_82fe;
/// 1/n! for n = 2..=6 (double-doubles) and n = 7..=16.
pub const EXP_DD: [(u64, u64); 5] = [
    (0x3fe0_0000_0000_0000, 0),
    (0x3fc5_5555_5555_5555, 0x3c65_5555_5555_5555),
    (0x3fa5_5555_5555_5555, 0x3c45_5555_5555_5555),
    (0x3f81_1111_1111_1111, 0x3c01_1111_1111_1111),
    (0x3f56_c16c_16c1_6c17, 0xbbef_49f4_9f49_f49f),
];
pub const EXP_TAIL: [u64; 10] = [
    0x3f2a_01a0_1a01_a01a,
    0x3efa_01a0_1a01_a01a,
    0x3ec7_1de3_a556_c734,
    0x3e92_7e4f_b778_9f5c,
    0x3e5a_e645_67f5_44e4,
    0x3e21_eed8_eff8_d898,
    0x3de6_1246_13a8_6d09,
    0x3da9_3974_a8c0_7c9d,
    0x3d6a_e7f3_e733_b81f,
    0x3d2a_e7f3_e733_b81f,
];
/// 2/(2j+1) for j = 1..=4 (double-doubles) and j = 5..=15.
pub const LOG_DD: [(u64, u64); 4] = [
    (0x3fe5_5555_5555_5555, 0x3c85_5555_5555_5555),
    (0x3fd9_9999_9999_999a, 0xbc79_9999_9999_999a),
    (0x3fd2_4924_9249_2492, 0x3c72_4924_9249_2492),
    (0x3fcc_71c7_1c71_c71c, 0x3c6c_71c7_1c71_c71c),
];
pub const LOG_TAIL: [u64; 11] = [
    0x3fc7_45d1_745d_1746,
    0x3fc3_b13b_13b1_3b14,
    0x3fc1_1111_1111_1111,
    0x3fbe_1e1e_1e1e_1e1e,
    0x3fba_f286_bca1_af28,
    0x3fb8_6186_1861_8618,
    0x3fb6_42c8_590b_2164,
    0x3fb4_7ae1_47ae_147b,
    0x3fb2_f684_bda1_2f68,
    0x3fb1_a7b9_611a_7b96,
    0x3fb0_8421_0842_1084,
];
/// (-1)^j/(2j+1)! for j = 1..=4 (double-doubles) and j = 5..=11.
pub const SIN_DD: [(u64, u64); 4] = [
    (0xbfc5_5555_5555_5555, 0xbc65_5555_5555_5555),
    (0x3f81_1111_1111_1111, 0x3c01_1111_1111_1111),
    (0xbf2a_01a0_1a01_a01a, 0xbb6a_01a0_1a01_a01a),
    (0x3ec7_1de3_a556_c734, 0xbb6c_154f_8ddc_6c00),
];
pub const SIN_TAIL: [u64; 7] = [
    0xbe5a_e645_67f5_44e4,
    0x3de6_1246_13a8_6d09,
    0xbd6a_e7f3_e733_b81f,
    0x3ce9_52c7_7030_ad4a,
    0xbc62_f49b_4681_4157,
    0x3bd7_1b8e_f6dc_f572,
    0xbb47_61b4_1316_381a,
];
/// (-1)^j/(2j)! for j = 1..=4 (double-doubles) and j = 5..=11.
pub const COS_DD: [(u64, u64); 4] = [
    (0xbfe0_0000_0000_0000, 0),
    (0x3fa5_5555_5555_5555, 0x3c45_5555_5555_5555),
    (0xbf56_c16c_16c1_6c17, 0x3bef_49f4_9f49_f49f),
    (0x3efa_01a0_1a01_a01a, 0x3b3a_01a0_1a01_a01a),
];
pub const COS_TAIL: [u64; 7] = [
    0xbe92_7e4f_b778_9f5c,
    0x3e21_eed8_eff8_d898,
    0xbda9_3974_a8c0_7c9d,
    0x3d2a_e7f3_e733_b81f,
    0xbca6_8278_63b9_7d97,
    0x3c1e_542b_a402_0225,
    0xbb90_ce39_6db7_f853,
];
/// pi/2 as a double-double.
pub const PIO2: (u64, u64) = (0x3ff9_21fb_5444_2d18, 0x3c91_a626_3314_5c07);
/// The bits of 2/pi after the point, 64 a word (most significant first),
/// from the continued computation of 2/pi to 1216 bits.
pub const TWO_OVER_PI: [u64; 19] = [
    0xa2f9_836e_4e44_1529,
    0xfc27_57d1_f534_ddc0,
    0xdb62_9599_3c43_9041,
    0xfe51_63ab_debb_c561,
    0xb724_6e3a_424d_d2e0,
    0x0649_2eea_09d1_921c,
    0xfe1d_eb1c_b129_a73e,
    0xe882_35f5_2ebb_4484,
    0xe99c_7026_b45f_7e41,
    0x3991_d639_8353_39f4,
    0x9c84_5f8b_bdf9_283b,
    0x1ff8_97ff_de05_980f,
    0xef2f_118b_5a0a_6d1f,
    0x6d36_7ecf_27cb_09b7,
    0x4f46_3f66_9e5f_ea2d,
    0x7527_bac7_ebe5_f17b,
    0x3d07_39f7_8a52_92ea,
    0x6bfb_5fb1_1f8d_5d08,
    0x5603_3046_fc7b_6bab,
];
