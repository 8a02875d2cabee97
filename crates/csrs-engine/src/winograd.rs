//! 3×3 stride-1 convolutions by Winograd's minimal filtering (Lavin and
//! Gray, 2016): each `m × m` block of output pixels is computed from the
//! `(m + 2) × (m + 2)` input tile under it. F(2×2, 3×3) takes 16
//! multiplications per input and output channel pair where the direct sum
//! takes 36 (2.25× fewer); F(4×4, 3×3) takes 36 where it takes 144 (4×
//! fewer), for transforms of twice the cost per output pixel and a larger
//! rounding error ([`Tiling`]).
//!
//! With `d` a tile of one input channel, `g` a 3×3 filter and `⊙` the
//! elementwise product, the block is `Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A`, summed
//! over input channels. The filters are transformed once, at compile time:
//! `U = G g Gᵀ`, one matrix of `[input channels, output channels]` per
//! position of the tile, packed for the kernel like any layer's weights. At
//! run time a block of tiles, read in place from the unpadded input (zeros
//! where a tile overhangs it), is transformed (`V = Bᵀ d B`, one matrix of
//! `[tiles, input channels]` per position), multiplied (a product `M = V ·
//! U` by [`gemm`] per position), and transformed back (`Aᵀ M A`), with the
//! bias, residual and ReLU added as the pixels are written. Channels are
//! contiguous in NHWC, so every transform is a few vector additions per
//! channel vector.
//!
//! The rounding differs from the direct sum's (the transforms add and
//! subtract values before they are multiplied): the network stays one fixed
//! function of its input, and the engine's tests hold its logits to the
//! reference interpreter's within the same tolerance as the direct path.

use pulp::Simd;

use crate::gemm::{Output, PANEL, Packed, Rows, STEP, gemm};

/// Values of the transformed tiles and products one block of tiles takes
/// (about; the block is smaller for wide layers): 128 Ki values, 512 KiB,
/// within L2 with the input it reads.
const BLOCK_VALUES: usize = 128 * 1024;

/// A block's tiles are a multiple of this, so that the products' row tiles
/// are whole.
const BLOCK_ROWS: usize = 12;

/// Values between the ends of two positions' matrices in the scratch: a
/// cache line, so that the positions a transform reads or writes at once
/// do not all fall in one set of the L1 cache (matrices of a power-of-two
/// size apart would, and evict each other).
const SKEW: usize = 16;

/// The most input and output channels, together, of a layer computed by
/// F(4×4, 3×3): its 36 matrices of weights are read once per block of
/// tiles, and on wider layers the blocks are too short to pay for them.
/// Measured with `csrs bench` (samples/s, F(2×2) everywhere → F(4×4) up to
/// 512 → F(4×4) everywhere): ResNet-18 at 224×224 78–79 → 84–86 → 75–78,
/// VGG-11 1 138–1 184 → 1 312–1 316 → 1 231–1 294 (docs/performance.md).
const F4_MAX_CHANNELS: usize = 512;

/// Which minimal filtering a convolution uses: output blocks of 2×2 or
/// 4×4 pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tiling {
    /// F(2×2, 3×3): 4×4 input tiles, 16 positions.
    F2,
    /// F(4×4, 3×3): 6×6 input tiles, 36 positions.
    F4,
}

impl Tiling {
    /// Output pixels down and across the block a tile computes.
    fn output_side(self) -> usize {
        match self {
            Tiling::F2 => 2,
            Tiling::F4 => 4,
        }
    }

    /// Input pixels down and across a tile.
    fn input_side(self) -> usize {
        self.output_side() + 2
    }

    /// Positions of a transformed tile.
    fn positions(self) -> usize {
        self.input_side() * self.input_side()
    }

    /// `G`, one row per position along a side.
    fn g(self) -> &'static [[f32; 3]] {
        match self {
            Tiling::F2 => &[[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]],
            Tiling::F4 => &[
                [1.0 / 4.0, 0.0, 0.0],
                [-1.0 / 6.0, -1.0 / 6.0, -1.0 / 6.0],
                [-1.0 / 6.0, 1.0 / 6.0, -1.0 / 6.0],
                [1.0 / 24.0, 1.0 / 12.0, 1.0 / 6.0],
                [1.0 / 24.0, -1.0 / 12.0, 1.0 / 6.0],
                [0.0, 0.0, 1.0],
            ],
        }
    }
}

/// A convolution's transformed weights and the sizes of its tiling.
#[derive(Debug, Clone)]
pub(crate) struct Winograd {
    tiling: Tiling,
    /// `U` at each position, `[input channels, output channels]`.
    weights: Vec<Packed>,
    /// Output blocks down and across an image.
    tiles_hw: [usize; 2],
    /// The input's height and width.
    input_hw: [usize; 2],
    /// The convolution's padding above and left of the input: tiles start
    /// that far up and left of it, and read zeros wherever they overhang
    /// it (the padding, and what the last tiles take past the output).
    before: [usize; 2],
    /// Tiles per block.
    block: usize,
    channels: [usize; 2],
}

/// What [`Winograd::new`] needs to know of the convolution's shape.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    pub(crate) input_hw: [usize; 2],
    pub(crate) output_hw: [usize; 2],
    /// The padding above and left of the input.
    pub(crate) before: [usize; 2],
    pub(crate) channels: [usize; 2],
}

impl Winograd {
    /// Transforms the weights of a 3×3 stride-1 convolution: `weight` has
    /// rows (ky, kx, input channel) and `cout` columns, as
    /// [`crate::compile::Conv::weight`].
    pub(crate) fn new(weight: &[f32], shape: Shape) -> Self {
        let Shape { input_hw, output_hw, before, channels: [cin, cout] } = shape;
        let tiling = Self::tiling(output_hw, cin + cout);
        let g_matrix = tiling.g();
        let (side, positions) = (tiling.input_side(), tiling.positions());
        let mut transformed = vec![vec![0.0; cin * cout]; positions];
        for ci in 0..cin {
            for co in 0..cout {
                let g = |ky: usize, kx: usize| weight[((ky * 3 + kx) * cin + ci) * cout + co];
                // G g: side × 3; then (G g) Gᵀ: side × side.
                let left: Vec<[f32; 3]> = g_matrix
                    .iter()
                    .map(|g_row| std::array::from_fn(|kx| (0..3).map(|ky| g_row[ky] * g(ky, kx)).sum()))
                    .collect();
                for (r, row) in left.iter().enumerate() {
                    for (c, g_row) in g_matrix.iter().enumerate() {
                        let u: f32 = row.iter().zip(g_row).map(|(a, b)| a * b).sum();
                        transformed[r * side + c][ci * cout + co] = u;
                    }
                }
            }
        }
        let [oh, ow] = output_hw;
        let m = tiling.output_side();
        let tiles_hw = [oh.div_ceil(m), ow.div_ceil(m)];
        // Whole tiles of the kernel's rows (12 with AVX-512, 6 with AVX2).
        let block = (BLOCK_VALUES / (positions * (cin + cout))).div_ceil(BLOCK_ROWS).max(1) * BLOCK_ROWS;
        Self {
            tiling,
            weights: transformed.iter().map(|u| Packed::new(u, cin, cout)).collect(),
            tiles_hw,
            input_hw,
            before,
            block,
            channels: [cin, cout],
        }
    }

    /// The tiling of a convolution: F(4×4, 3×3) when it takes fewer
    /// multiplications than F(2×2, 3×3) (with the blocks past the image's
    /// edge counted) and its layer is at most [`F4_MAX_CHANNELS`] wide.
    fn tiling(output_hw: [usize; 2], channels: usize) -> Tiling {
        let work = |tiling: Tiling| {
            let m = tiling.output_side();
            output_hw.iter().map(|side| side.div_ceil(m)).product::<usize>() * tiling.positions()
        };
        if channels <= F4_MAX_CHANNELS && work(Tiling::F4) < work(Tiling::F2) { Tiling::F4 } else { Tiling::F2 }
    }

    /// Whether a convolution of this shape is computed this way: 3×3,
    /// stride 1, no dilation or groups, channels in whole runs and panels,
    /// and images of more than 4×4 outputs (the per-pixel product of
    /// [`crate::pixelwise`] measured faster on 4×4).
    ///
    /// Layers of 16 channels pay too, since F(4×4, 3×3): on ResNet-110
    /// (`csrs bench`, samples/s), its 16-channel layers by the direct
    /// product 624–642, by Winograd 659–677; ResNet-20 3 564–3 712 →
    /// 3 790–3 921. (By F(2×2, 3×3) alone, they had measured slower than
    /// the direct product: docs/performance.md.)
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
            && cin.min(cout) > 0
            && output_hw.iter().all(|&side| side > 4)
    }

    /// Values of the scratch: one block's transformed tiles and products.
    pub(crate) fn scratch_len(&self) -> usize {
        let [cin, cout] = self.channels;
        self.tiling.positions() * (self.block * (cin + cout) + 2 * SKEW)
    }
}

/// The output pixels `out` (`images` images of `output_hw` pixels, each
/// `pixel` values with this convolution's channels from `offset`) of the
/// NHWC images `input`: bias, plus residual (laid out like `out`), plus
/// the convolution, then ReLU if asked.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn convolve<S: Simd>(
    simd: S,
    winograd: &Winograd,
    input: &[f32],
    scratch: &mut [f32],
    images: usize,
    output_hw: [usize; 2],
    pixel: [usize; 2],
    bias: &[f32],
    residual: Option<&[f32]>,
    relu: bool,
    out: &mut [f32],
) {
    let io = Io { input, scratch, images, output_hw, pixel, bias, residual, relu, out };
    match winograd.tiling {
        Tiling::F2 => convolve_tiled::<S, F2, 4, 2>(simd, winograd, io),
        Tiling::F4 => convolve_tiled::<S, F4, 6, 4>(simd, winograd, io),
    }
}

/// What [`convolve`] reads and writes.
struct Io<'a> {
    input: &'a [f32],
    scratch: &'a mut [f32],
    images: usize,
    output_hw: [usize; 2],
    pixel: [usize; 2],
    bias: &'a [f32],
    residual: Option<&'a [f32]>,
    relu: bool,
    out: &'a mut [f32],
}

/// [`convolve`] with tiles of `T × T` inputs and `M × M` outputs, whose
/// transforms `W` computes.
#[inline(always)]
fn convolve_tiled<S: Simd, W: Transforms<T, M>, const T: usize, const M: usize>(
    simd: S,
    winograd: &Winograd,
    io: Io<'_>,
) {
    let Io { input, scratch, images, output_hw, pixel: [pixel, offset], bias, residual, relu, out } = io;
    let [cin, cout] = winograd.channels;
    let [th, tw] = winograd.tiles_hw;
    let [h, w] = winograd.input_hw;
    let [top, left] = winograd.before;
    let [oh, ow] = output_hw;
    let lanes = S::F32_LANES;
    // Where each position's matrix of transformed tiles and of products
    // starts.
    let (in_stride, out_stride) = (winograd.block * cin + SKEW, winograd.block * cout + SKEW);
    let (inputs, products) = scratch.split_at_mut(T * T * in_stride);
    let tiles = images * th * tw;
    let mut first = 0;
    while first < tiles {
        let count = winograd.block.min(tiles - first);
        // V = Bᵀ d B, position by position: [tiles, cin] each.
        for t in 0..count {
            let (image, tile) = ((first + t) / (th * tw), (first + t) % (th * tw));
            // The tile's rows and columns of the input, zeros where they
            // fall outside it.
            let (y, x) = (M * (tile / tw), M * (tile % tw));
            let rows: [Option<usize>; T] = std::array::from_fn(|r| (y + r).checked_sub(top).filter(|&iy| iy < h));
            let columns: [Option<usize>; T] = std::array::from_fn(|c| (x + c).checked_sub(left).filter(|&ix| ix < w));
            for j in (0..cin).step_by(lanes) {
                let mut d = [[simd.splat_f32s(0.0); T]; T];
                for (row, iy) in d.iter_mut().zip(rows) {
                    let Some(iy) = iy else { continue };
                    for (value, ix) in row.iter_mut().zip(columns) {
                        if let Some(ix) = ix {
                            let at = ((image * h + iy) * w + ix) * cin + j;
                            *value = S::as_simd_f32s(&input[at..at + lanes]).0[0];
                        }
                    }
                }
                let v = input_transform::<S, W, T, M>(simd, d);
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
            let (y, x) = (M * (tile / tw), M * (tile % tw));
            for j in (0..cout).step_by(lanes) {
                let mut m = [[simd.splat_f32s(0.0); T]; T];
                for (position, value) in m.iter_mut().flatten().enumerate() {
                    let at = position * out_stride + t * cout + j;
                    *value = S::as_simd_f32s(&products[at..at + lanes]).0[0];
                }
                let block = output_transform::<S, W, T, M>(simd, m);
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

/// A tiling's transforms along one side: the input's `Bᵀ x` on a column of
/// `T` values, the output's `Aᵀ x` from `T` values to `M`. The 2-D
/// transforms apply them down the columns, then along the rows. (Functions
/// of a trait, not closures: a closure would be compiled apart from the
/// dispatched instructions.)
trait Transforms<const T: usize, const M: usize> {
    fn input<S: Simd>(simd: S, d: [S::f32s; T]) -> [S::f32s; T];
    fn output<S: Simd>(simd: S, m: [S::f32s; T]) -> [S::f32s; M];
}

/// F(2×2, 3×3).
struct F2;

impl Transforms<4, 2> for F2 {
    /// `Bᵀ = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]`.
    #[inline(always)]
    fn input<S: Simd>(simd: S, d: [S::f32s; 4]) -> [S::f32s; 4] {
        [simd.sub_f32s(d[0], d[2]), simd.add_f32s(d[1], d[2]), simd.sub_f32s(d[2], d[1]), simd.sub_f32s(d[1], d[3])]
    }

    /// `Aᵀ = [[1, 1, 1, 0], [0, 1, -1, -1]]`.
    #[inline(always)]
    fn output<S: Simd>(simd: S, m: [S::f32s; 4]) -> [S::f32s; 2] {
        [simd.add_f32s(simd.add_f32s(m[0], m[1]), m[2]), simd.sub_f32s(simd.sub_f32s(m[1], m[2]), m[3])]
    }
}

/// F(4×4, 3×3), on the points 0, ±1, ±2 and ∞.
struct F4;

impl Transforms<6, 4> for F4 {
    /// `Bᵀ = [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
    /// [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]]`.
    #[inline(always)]
    fn input<S: Simd>(simd: S, d: [S::f32s; 6]) -> [S::f32s; 6] {
        let (four, minus_four, minus_five) = (simd.splat_f32s(4.0), simd.splat_f32s(-4.0), simd.splat_f32s(-5.0));
        let d4_4d2 = simd.mul_add_f32s(minus_four, d[2], d[4]);
        let d3_4d1 = simd.mul_add_f32s(minus_four, d[1], d[3]);
        let d4_d2 = simd.sub_f32s(d[4], d[2]);
        let twice_d3_d1 = simd.mul_f32s(simd.splat_f32s(2.0), simd.sub_f32s(d[3], d[1]));
        [
            simd.mul_add_f32s(four, d[0], simd.mul_add_f32s(minus_five, d[2], d[4])),
            simd.add_f32s(d4_4d2, d3_4d1),
            simd.sub_f32s(d4_4d2, d3_4d1),
            simd.add_f32s(d4_d2, twice_d3_d1),
            simd.sub_f32s(d4_d2, twice_d3_d1),
            simd.mul_add_f32s(four, d[1], simd.mul_add_f32s(minus_five, d[3], d[5])),
        ]
    }

    /// `Aᵀ = [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0],
    /// [0, 1, -1, 8, -8, 1]]`.
    #[inline(always)]
    fn output<S: Simd>(simd: S, m: [S::f32s; 6]) -> [S::f32s; 4] {
        let (sum12, difference12) = (simd.add_f32s(m[1], m[2]), simd.sub_f32s(m[1], m[2]));
        let (sum34, difference34) = (simd.add_f32s(m[3], m[4]), simd.sub_f32s(m[3], m[4]));
        [
            simd.add_f32s(simd.add_f32s(m[0], sum12), sum34),
            simd.mul_add_f32s(simd.splat_f32s(2.0), difference34, difference12),
            simd.mul_add_f32s(simd.splat_f32s(4.0), sum34, sum12),
            simd.add_f32s(simd.mul_add_f32s(simd.splat_f32s(8.0), difference34, difference12), m[5]),
        ]
    }
}

/// Column `c` of a tile.
#[inline(always)]
fn column<V: Copy, const T: usize>(tile: &[[V; T]; T], c: usize) -> [V; T] {
    let mut column = tile[0];
    for (value, row) in column.iter_mut().zip(tile) {
        *value = row[c];
    }
    column
}

/// `Bᵀ d B`: the input transform down each column, then along each row.
/// (Index loops, no closures: see [`Transforms`].)
#[allow(clippy::needless_range_loop, reason = "the transform reads by position")]
#[inline(always)]
fn input_transform<S: Simd, W: Transforms<T, M>, const T: usize, const M: usize>(
    simd: S,
    d: [[S::f32s; T]; T],
) -> [[S::f32s; T]; T] {
    let mut x = d;
    for c in 0..T {
        let column = W::input(simd, column(&d, c));
        for r in 0..T {
            x[r][c] = column[r];
        }
    }
    for r in 0..T {
        x[r] = W::input(simd, x[r]);
    }
    x
}

/// `Aᵀ m A`: the output transform down each column, then along each row.
#[allow(clippy::needless_range_loop, reason = "the transform reads by position")]
#[inline(always)]
fn output_transform<S: Simd, W: Transforms<T, M>, const T: usize, const M: usize>(
    simd: S,
    m: [[S::f32s; T]; T],
) -> [[S::f32s; M]; M] {
    let mut z = [m[0]; M];
    for c in 0..T {
        let column = W::output(simd, column(&m, c));
        for r in 0..M {
            z[r][c] = column[r];
        }
    }
    let mut y = [[m[0][0]; M]; M];
    for r in 0..M {
        y[r] = W::output(simd, z[r]);
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    /// F(4×4, 3×3) where it takes fewer multiplications, F(2×2, 3×3) on a
    /// tie and on layers wider than [`F4_MAX_CHANNELS`].
    #[test]
    fn the_tiling_takes_fewer_multiplications() {
        // 8×8: 16 blocks of 16 positions against 4 of 36.
        assert_eq!(Winograd::tiling([8, 8], 128), Tiling::F4);
        assert_eq!(Winograd::tiling([32, 16], 64), Tiling::F4);
        // 6×6: 9 × 16 = 4 × 36.
        assert_eq!(Winograd::tiling([6, 6], 64), Tiling::F2);
        assert_eq!(Winograd::tiling([5, 5], 64), Tiling::F2);
        assert_eq!(Winograd::tiling([16, 16], F4_MAX_CHANNELS), Tiling::F4);
        assert_eq!(Winograd::tiling([16, 16], F4_MAX_CHANNELS + 32), Tiling::F2);
    }

    /// Each tiling's transforms and transformed weights give the direct
    /// 3×3 sum on images of one and several tiles (edges overhanging), with
    /// bias, residual and ReLU, under the processor's widest instructions.
    #[test]
    fn both_tilings_compute_the_direct_convolution() {
        struct Check;
        impl pulp::WithSimd for Check {
            type Output = ();
            fn with_simd<S: Simd>(self, simd: S) {
                let (cin, cout) = (16, 32);
                for (output_hw, tiling) in
                    [([6, 6], Tiling::F2), ([5, 5], Tiling::F2), ([8, 8], Tiling::F4), ([11, 9], Tiling::F4)]
                {
                    let [oh, ow] = output_hw;
                    let weight: Vec<f32> = (0..9 * cin * cout).map(|i| ((i * 37 % 23) as f32 - 11.0) / 16.0).collect();
                    // Padding 1: the input is the output's size.
                    let shape = Shape { input_hw: output_hw, output_hw, before: [1, 1], channels: [cin, cout] };
                    let winograd = Winograd::new(&weight, shape);
                    assert_eq!(winograd.tiling, tiling, "{output_hw:?}");
                    let input = |y: usize, x: usize, c: usize| ((y * 31 + x * 17 + c * 7) % 19) as f32 / 8.0 - 1.0;
                    let image: Vec<f32> = triples(oh, ow, cin).map(|(y, x, c)| input(y, x, c)).collect();
                    let bias: Vec<f32> = (0..cout).map(|c| c as f32 / 10.0 - 1.0).collect();
                    let residual: Vec<f32> = (0..oh * ow * cout).map(|i| (i % 7) as f32 - 3.0).collect();
                    let mut scratch = vec![0.0; winograd.scratch_len()];
                    let mut out = vec![f32::NAN; oh * ow * cout];
                    let io = [cout, 0];
                    convolve(
                        simd,
                        &winograd,
                        &image,
                        &mut scratch,
                        1,
                        output_hw,
                        io,
                        &bias,
                        Some(&residual),
                        true,
                        &mut out,
                    );
                    for (y, x, co) in triples(oh, ow, cout) {
                        let mut sum = f64::from(bias[co] + residual[(y * ow + x) * cout + co]);
                        for (ky, kx, ci) in triples(3, 3, cin) {
                            let (iy, ix) = ((y + ky) as isize - 1, (x + kx) as isize - 1);
                            if (0..oh as isize).contains(&iy) && (0..ow as isize).contains(&ix) {
                                let w = weight[((ky * 3 + kx) * cin + ci) * cout + co];
                                sum += f64::from(input(iy as usize, ix as usize, ci)) * f64::from(w);
                            }
                        }
                        let expected = sum.max(0.0) as f32;
                        let found = out[(y * ow + x) * cout + co];
                        assert!(
                            (found - expected).abs() <= 1e-4 * (1.0 + expected.abs()),
                            "{tiling:?} on {output_hw:?} at ({y}, {x}, {co}): {found} vs {expected}"
                        );
                    }
                }
            }
        }
        pulp::Arch::new().dispatch(Check);
        Simd::vectorize(pulp::Scalar::new(), Check);
    }

    /// `(a, b, c)` for every `a < n0`, `b < n1`, `c < n2`, in order.
    fn triples(n0: usize, n1: usize, n2: usize) -> impl Iterator<Item = (usize, usize, usize)> {
        (0..n0).flat_map(move |a| (0..n1).flat_map(move |b| (0..n2).map(move |c| (a, b, c))))
    }
}
