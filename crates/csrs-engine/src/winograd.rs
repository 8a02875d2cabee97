//! 3×3 stride-1 convolutions by Winograd's minimal filtering F(2×2, 3×3)
//! (Lavin and Gray, 2016): each 2×2 block of output pixels is computed from
//! the 4×4 input tile under it with 16 multiplications per input and output
//! channel pair instead of 36, 2.25× fewer.
//!
//! With `d` a tile of one input channel, `g` a 3×3 filter and `⊙` the
//! elementwise product, the block is `Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A`, summed
//! over input channels. The filters are transformed once, at compile time:
//! `U = G g Gᵀ`, 16 matrices of `[input channels, output channels]`, packed
//! for the kernel like any layer's weights. At run time a block of tiles is
//! transformed (`V = Bᵀ d B`, 16 matrices of `[tiles, input channels]`),
//! multiplied (16 products `M = V · U` by [`gemm`]), and transformed back
//! (`Aᵀ M A`), with the bias, residual and ReLU added as the pixels are
//! written. Channels are contiguous in NHWC, so every transform is a few
//! vector additions per channel vector.
//!
//! The rounding differs from the direct sum's (the transforms add and
//! subtract values before they are multiplied): the network stays one fixed
//! function of its input, and the engine's tests hold its logits to the
//! reference interpreter's within the same tolerance as the direct path.

use pulp::Simd;

use crate::gemm::{Output, PANEL, Packed, Rows, STEP, gemm};

/// Positions of a transformed tile: 4 × 4.
const POSITIONS: usize = 16;

/// Values of the transformed tiles and products one block of tiles takes at
/// most (the block is smaller for wide layers): 128 Ki values, 512 KiB,
/// within L2 with the input it reads.
const BLOCK_VALUES: usize = 128 * 1024;

/// Values between the ends of two positions' matrices in the scratch: a
/// cache line, so that the 16 positions a transform reads or writes at once
/// do not all fall in one set of the L1 cache (matrices of a power-of-two
/// size apart would, and evict each other).
const SKEW: usize = 16;

/// The fewest input and output channels for which the transforms pay: on
/// 16 channels the products are too short (depth 16) to outrun the direct
/// product, which reads the padded input in place. Measured with `csrs
/// bench` on ResNet-110 (16, 32 and 64 channels): every 3×3 layer by
/// Winograd 404 samples/s, none 432–486, those of 32 and more channels
/// 456–477, of 64 and more 467–471 (docs/performance.md).
const MIN_CHANNELS: usize = 32;

/// A convolution's transformed weights and the sizes of its tiling.
#[derive(Debug, Clone)]
pub(crate) struct Winograd {
    /// `U` at each position, `[input channels, output channels]`.
    weights: Vec<Packed>,
    /// Output tiles down and across an image.
    tiles_hw: [usize; 2],
    /// The zero-padded input the tiles read: the convolution's padding,
    /// and zeros below and right so that every tile is whole.
    pub(crate) padded_hw: [usize; 2],
    /// Tiles per block.
    block: usize,
    channels: [usize; 2],
}

impl Winograd {
    /// Transforms the weights of a 3×3 stride-1 convolution: `weight` has
    /// rows (ky, kx, input channel) and `cout` columns, as
    /// [`crate::compile::Conv::weight`].
    pub(crate) fn new(weight: &[f32], cin: usize, cout: usize, output_hw: [usize; 2]) -> Self {
        const G: [[f32; 3]; 4] = [[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]];
        let mut transformed = vec![vec![0.0; cin * cout]; POSITIONS];
        for ci in 0..cin {
            for co in 0..cout {
                let g = |ky: usize, kx: usize| weight[((ky * 3 + kx) * cin + ci) * cout + co];
                // G g: 4 × 3; then (G g) Gᵀ: 4 × 4.
                let mut left = [[0.0f32; 3]; 4];
                for (r, row) in left.iter_mut().enumerate() {
                    for (kx, value) in row.iter_mut().enumerate() {
                        *value = (0..3).map(|ky| G[r][ky] * g(ky, kx)).sum();
                    }
                }
                for (r, row) in left.iter().enumerate() {
                    for (c, g_row) in G.iter().enumerate() {
                        let u: f32 = row.iter().zip(g_row).map(|(a, b)| a * b).sum();
                        transformed[r * 4 + c][ci * cout + co] = u;
                    }
                }
            }
        }
        let [oh, ow] = output_hw;
        let tiles_hw = [oh.div_ceil(2), ow.div_ceil(2)];
        let block = (BLOCK_VALUES / (POSITIONS * (cin + cout))).max(1);
        Self {
            weights: transformed.iter().map(|u| Packed::new(u, cin, cout)).collect(),
            tiles_hw,
            padded_hw: [2 * tiles_hw[0] + 2, 2 * tiles_hw[1] + 2],
            block,
            channels: [cin, cout],
        }
    }

    /// Whether a convolution of this shape is computed this way: 3×3,
    /// stride 1, no dilation or groups, channels in whole runs and panels,
    /// at least [`MIN_CHANNELS`] in and out, and images of at least 4×4
    /// outputs (smaller ones have more tile padding than tiles).
    pub(crate) fn applies(
        kernel: [usize; 2],
        stride: [usize; 2],
        dilation: [usize; 2],
        groups: usize,
        cin: usize,
        cout: usize,
        output_hw: [usize; 2],
    ) -> bool {
        kernel == [3, 3]
            && stride == [1, 1]
            && dilation == [1, 1]
            && groups == 1
            && cin.is_multiple_of(STEP)
            && cout.is_multiple_of(PANEL)
            && cin.min(cout) >= MIN_CHANNELS
            && output_hw.iter().all(|&side| side > 4)
    }

    /// Values of the scratch for `images` images: their padded inputs,
    /// then one block's transformed tiles and products.
    pub(crate) fn scratch_len(&self, images: usize) -> usize {
        let [ph, pw] = self.padded_hw;
        let [cin, cout] = self.channels;
        images * ph * pw * cin + POSITIONS * (self.block * (cin + cout) + 2 * SKEW)
    }

    /// Images whose padded inputs fit in `scratch` with one block.
    pub(crate) fn images_in(&self, scratch: usize) -> usize {
        let [ph, pw] = self.padded_hw;
        (scratch - self.scratch_len(0)) / (ph * pw * self.channels[0])
    }
}

/// The output pixels `out` (`images` images of `output_hw` pixels, each
/// `pixel` values with this convolution's channels from `offset`) of the
/// padded inputs `padded`: bias, plus residual (laid out like `out`), plus
/// the convolution, then ReLU if asked.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn convolve<S: Simd>(
    simd: S,
    winograd: &Winograd,
    padded: &[f32],
    scratch: &mut [f32],
    images: usize,
    output_hw: [usize; 2],
    [pixel, offset]: [usize; 2],
    bias: &[f32],
    residual: Option<&[f32]>,
    relu: bool,
    out: &mut [f32],
) {
    let [cin, cout] = winograd.channels;
    let [th, tw] = winograd.tiles_hw;
    let [ph, pw] = winograd.padded_hw;
    let [oh, ow] = output_hw;
    let lanes = S::F32_LANES;
    // Where each position's matrix of transformed tiles and of products
    // starts.
    let (in_stride, out_stride) = (winograd.block * cin + SKEW, winograd.block * cout + SKEW);
    let (inputs, products) = scratch.split_at_mut(POSITIONS * in_stride);
    let tiles = images * th * tw;
    let mut first = 0;
    while first < tiles {
        let count = winograd.block.min(tiles - first);
        // V = Bᵀ d B, position by position: [tiles, cin] each.
        for t in 0..count {
            let (image, tile) = ((first + t) / (th * tw), (first + t) % (th * tw));
            let (y, x) = (2 * (tile / tw), 2 * (tile % tw));
            for j in (0..cin).step_by(lanes) {
                let mut d = [[simd.splat_f32s(0.0); 4]; 4];
                for (r, row) in d.iter_mut().enumerate() {
                    for (c, value) in row.iter_mut().enumerate() {
                        let at = ((image * ph + y + r) * pw + x + c) * cin + j;
                        *value = S::as_simd_f32s(&padded[at..at + lanes]).0[0];
                    }
                }
                let v = input_transform(simd, d);
                for (position, value) in v.iter().flatten().enumerate() {
                    let at = position * in_stride + t * cin + j;
                    S::as_mut_simd_f32s(&mut inputs[at..at + lanes]).0[0] = *value;
                }
            }
        }
        // M = V · U at each position: [tiles, cout].
        for (position, weight) in winograd.weights.iter().enumerate() {
            let v = Rows { values: &inputs[position * in_stride..][..count * cin], rows: count, stride: cin };
            let m = &mut products[position * out_stride..][..count * cout];
            gemm(simd, &v, weight, Output { values: m, stride: cout, bias: None, residual: None, relu: false });
        }
        // Aᵀ M A, onto bias and residual, into the pixels inside the image.
        for t in 0..count {
            let (image, tile) = ((first + t) / (th * tw), (first + t) % (th * tw));
            let (y, x) = (2 * (tile / tw), 2 * (tile % tw));
            for j in (0..cout).step_by(lanes) {
                let mut m = [[simd.splat_f32s(0.0); 4]; 4];
                for (position, value) in m.iter_mut().flatten().enumerate() {
                    let at = position * out_stride + t * cout + j;
                    *value = S::as_simd_f32s(&products[at..at + lanes]).0[0];
                }
                let block = output_transform(simd, m);
                let bias = S::as_simd_f32s(&bias[j..j + lanes]).0[0];
                for (r, row) in block.iter().enumerate() {
                    for (c, &value) in row.iter().enumerate() {
                        let (oy, ox) = (y + r, x + c);
                        if oy >= oh || ox >= ow {
                            continue;
                        }
                        let at = ((image * oh + oy) * ow + ox) * pixel + offset + j;
                        let mut value = simd.add_f32s(value, bias);
                        if let Some(residual) = residual {
                            value = simd.add_f32s(value, S::as_simd_f32s(&residual[at..at + lanes]).0[0]);
                        }
                        if relu {
                            value = simd.max_f32s(value, simd.splat_f32s(0.0));
                        }
                        S::as_mut_simd_f32s(&mut out[at..at + lanes]).0[0] = value;
                    }
                }
            }
        }
        first += count;
    }
}

/// `Bᵀ d B` with `Bᵀ = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]`.
/// (Index loops and no closures: a closure would be compiled apart from
/// the dispatched instructions.)
#[allow(clippy::needless_range_loop, reason = "the transform's formulas read by position")]
#[inline(always)]
fn input_transform<S: Simd>(simd: S, d: [[S::f32s; 4]; 4]) -> [[S::f32s; 4]; 4] {
    let mut x = d;
    for c in 0..4 {
        x[0][c] = simd.sub_f32s(d[0][c], d[2][c]);
        x[1][c] = simd.add_f32s(d[1][c], d[2][c]);
        x[2][c] = simd.sub_f32s(d[2][c], d[1][c]);
        x[3][c] = simd.sub_f32s(d[1][c], d[3][c]);
    }
    let mut v = x;
    for r in 0..4 {
        v[r][0] = simd.sub_f32s(x[r][0], x[r][2]);
        v[r][1] = simd.add_f32s(x[r][1], x[r][2]);
        v[r][2] = simd.sub_f32s(x[r][2], x[r][1]);
        v[r][3] = simd.sub_f32s(x[r][1], x[r][3]);
    }
    v
}

/// `Aᵀ m A` with `Aᵀ = [[1, 1, 1, 0], [0, 1, -1, -1]]`.
#[allow(clippy::needless_range_loop, reason = "the transform's formulas read by position")]
#[inline(always)]
fn output_transform<S: Simd>(simd: S, m: [[S::f32s; 4]; 4]) -> [[S::f32s; 2]; 2] {
    let mut z = [m[0], m[1]];
    for c in 0..4 {
        z[0][c] = simd.add_f32s(simd.add_f32s(m[0][c], m[1][c]), m[2][c]);
        z[1][c] = simd.sub_f32s(simd.sub_f32s(m[1][c], m[2][c]), m[3][c]);
    }
    let mut y = [[z[0][0]; 2]; 2];
    for r in 0..2 {
        y[r][0] = simd.add_f32s(simd.add_f32s(z[r][0], z[r][1]), z[r][2]);
        y[r][1] = simd.sub_f32s(simd.sub_f32s(z[r][1], z[r][2]), z[r][3]);
    }
    y
}
