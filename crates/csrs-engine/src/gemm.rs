//! The engine's matrix product: `C = bias + residual + A · B`, then ReLU
//! ([`Output`]), where `B` is a layer's constant weights, packed once at
//! compile time ([`Packed`]), and `A` is read in place ([`Source`]): the
//! NHWC activation of a 1×1 convolution or a linear layer, the windows of a
//! zero-padded input, or an im2col matrix.
//!
//! The work is done by a register-blocked micro-kernel over a tile of `MR`
//! rows and one or two panels of [`PANEL`] columns: for each step along the
//! shared dimension, one vector of `B` per `lanes` columns is loaded, each
//! of the `MR` values of `A` is broadcast, and `MR × vectors` accumulators
//! take one fused multiply-add each. The tile is sized for the vector width
//! of the instructions [`pulp::Arch::dispatch`] chose:
//!
//! | instructions | lanes | tile | accumulators |
//! |---|---|---|---|
//! | AVX-512 (`x86-v4`) | 16 | 12 × 32 (two panels) | 24 of 32 registers |
//! | AVX2 + FMA (`x86-v3`) | 8 | 6 × 16 | 12 of 16 |
//! | others (portable) | 1–4 | 4 × 16 | the compiler's choice |
//!
//! The shared dimension is cut into blocks of at most [`DEPTH_BLOCK`]; in
//! each, the kernel takes the tiles column by column: one tile's panels of
//! `B` for the block (256 × 32 values, 32 KiB) stay in the L1 cache while
//! the kernel walks down `A`, whose rows for the block stream from L2
//! (blocks of 128 and 576, and rows outside, columns inside, measured
//! slower; docs/performance.md).

use pulp::Simd;

/// Columns of one panel of a [`Packed`] matrix: one AVX-512 vector, two
/// AVX2 ones.
pub(crate) const PANEL: usize = 16;

/// Values of the shared dimension the micro-kernel takes at a time: each
/// row's next `STEP` values of `A` are taken as a reference to an array,
/// from which the kernel broadcasts them at indices known at compile time,
/// so its loop has no bounds check and its sums stay in registers. A
/// window's runs lie within one tap's channels, so windows are read in
/// place when the input's channels are a multiple of it.
pub(crate) const STEP: usize = 16;

/// The longest stretch of the shared dimension one pass of the kernel
/// covers (see the module's documentation); a multiple of [`STEP`].
const DEPTH_BLOCK: usize = 256;

/// A constant `[depth, columns]` matrix (a layer's weights, rows ordered
/// as `A`'s columns) in panels of [`PANEL`] columns: panel `p` holds, row
/// after row, columns `p · PANEL ..` of that row, zeros past the last
/// column and in the rows past `depth` up to a multiple of [`STEP`].
#[derive(Debug, Clone)]
pub(crate) struct Packed {
    depth: usize,
    columns: usize,
    values: Vec<[f32; PANEL]>,
}

impl Packed {
    /// Packs the row-major `[depth, columns]` matrix `matrix`.
    pub(crate) fn new(matrix: &[f32], depth: usize, columns: usize) -> Self {
        assert_eq!(matrix.len(), depth * columns, "a [{depth}, {columns}] matrix");
        let panels = columns.div_ceil(PANEL);
        let rows = Self::rows(depth);
        let mut values = vec![[0.0; PANEL]; panels * rows];
        // (No rows, no values: a pixel whose taps all fall in the padding.)
        for (p, panel) in values.chunks_exact_mut(rows.max(1)).enumerate() {
            let first = p * PANEL;
            let width = PANEL.min(columns - first);
            for (row, packed) in matrix.chunks_exact(columns).zip(panel) {
                packed[..width].copy_from_slice(&row[first..first + width]);
            }
        }
        Self { depth, columns, values }
    }

    /// Row `r` of the first panel: columns `0..PANEL`, zeros past the
    /// last.
    pub(crate) fn row(&self, r: usize) -> &[f32; PANEL] {
        assert!(r < self.depth, "row {r} of {}", self.depth);
        &self.values[r]
    }

    /// Rows of each panel: `depth` rounded up to a multiple of [`STEP`].
    fn rows(depth: usize) -> usize {
        depth.div_ceil(STEP) * STEP
    }

    /// The rows of panel `p` from `first` (a multiple of [`STEP`]) on, in
    /// steps.
    #[inline(always)]
    fn panel(&self, p: usize, first: usize) -> &[[[f32; PANEL]; STEP]] {
        let rows = Self::rows(self.depth);
        self.values[p * rows..][first..rows].as_chunks().0
    }
}

/// Where the kernel reads `A`: row `r`'s values `k..k + STEP` (`k` a
/// multiple of [`STEP`]) start at `values()[start(r) + column(k)]`.
pub(crate) trait Source {
    fn rows(&self) -> usize;
    fn values(&self) -> &[f32];
    /// `start(first + i)` into each `starts[i]`, the last row's for rows
    /// past it.
    fn starts(&self, first: usize, starts: &mut [usize]);
    fn column(&self, k: usize) -> usize;
}

/// A row-major matrix read in place: row `r` is `values[r · stride..]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rows<'a> {
    pub(crate) values: &'a [f32],
    pub(crate) rows: usize,
    pub(crate) stride: usize,
}

impl Source for Rows<'_> {
    #[inline(always)]
    fn rows(&self) -> usize {
        self.rows
    }
    #[inline(always)]
    fn values(&self) -> &[f32] {
        self.values
    }
    #[inline(always)]
    fn starts(&self, first: usize, starts: &mut [usize]) {
        for (i, start) in starts.iter_mut().enumerate() {
            *start = (first + i).min(self.rows - 1) * self.stride;
        }
    }
    #[inline(always)]
    fn column(&self, k: usize) -> usize {
        k
    }
}

/// The im2col matrix of a convolution without the copy: row `r` is output
/// pixel `r` of zero-padded NHWC images, column `k` (tap, input channel)
/// the input value under it. Each run of [`STEP`] columns lies within one
/// tap's channels, contiguous in memory, at `steps[k / STEP]` from the
/// window's top-left value.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Windows<'a> {
    /// Padded images, `padded_hw · channels` values each.
    pub(crate) values: &'a [f32],
    pub(crate) images: usize,
    /// Output height and width.
    pub(crate) output_hw: [usize; 2],
    /// The padded input's height and width.
    pub(crate) padded_hw: [usize; 2],
    pub(crate) stride: [usize; 2],
    pub(crate) channels: usize,
    pub(crate) steps: &'a [usize],
}

impl Source for Windows<'_> {
    #[inline(always)]
    fn rows(&self) -> usize {
        self.images * self.output_hw[0] * self.output_hw[1]
    }
    #[inline(always)]
    fn values(&self) -> &[f32] {
        self.values
    }
    /// One division for the first row, then a walk along the output's
    /// rows and images.
    #[inline(always)]
    fn starts(&self, first: usize, starts: &mut [usize]) {
        let [oh, ow] = self.output_hw;
        let [ph, pw] = self.padded_hw;
        let [sh, sw] = self.stride;
        let (mut image, pixel) = (first / (oh * ow), first % (oh * ow));
        let (mut oy, mut ox) = (pixel / ow, pixel % ow);
        let mut last = 0;
        for (i, start) in starts.iter_mut().enumerate() {
            if first + i < self.rows() {
                last = ((image * ph + oy * sh) * pw + ox * sw) * self.channels;
                ox += 1;
                if ox == ow {
                    (ox, oy) = (0, oy + 1);
                    if oy == oh {
                        (oy, image) = (0, image + 1);
                    }
                }
            }
            *start = last;
        }
    }
    #[inline(always)]
    fn column(&self, k: usize) -> usize {
        self.steps[k / STEP]
    }
}

/// [`Rows`] read in runs of [`STEP`] values from offsets of their own: row
/// `r`'s run `k / STEP` starts at `r · stride + steps[k / STEP]` (the taps
/// of one output pixel, inside each image).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Gather<'a> {
    pub(crate) rows: Rows<'a>,
    pub(crate) steps: &'a [usize],
}

impl Source for Gather<'_> {
    #[inline(always)]
    fn rows(&self) -> usize {
        self.rows.rows
    }
    #[inline(always)]
    fn values(&self) -> &[f32] {
        self.rows.values
    }
    #[inline(always)]
    fn starts(&self, first: usize, starts: &mut [usize]) {
        self.rows.starts(first, starts);
    }
    #[inline(always)]
    fn column(&self, k: usize) -> usize {
        self.steps[k / STEP]
    }
}

/// Where the product goes, and what is added to it: the bias (one per
/// column), the residual (laid out like `C`) and the product, then ReLU if
/// asked. Bias and residual are added when the first block of the shared
/// dimension is stored, the ReLU when the last one is, so `C` is written
/// once per block and read only between blocks.
pub(crate) struct Output<'a> {
    pub(crate) values: &'a mut [f32],
    /// Between the starts of two rows of `values` (and of `residual`).
    pub(crate) stride: usize,
    pub(crate) bias: Option<&'a [f32]>,
    pub(crate) residual: Option<&'a [f32]>,
    pub(crate) relu: bool,
}

/// `C = bias + residual + A · B` (see [`Output`]): `a` has `b`'s depth of
/// columns, `c` has `a.rows()` rows of `b`'s columns.
#[inline(always)]
pub(crate) fn gemm<S: Simd>(simd: S, a: &impl Source, b: &Packed, c: Output<'_>) {
    if a.rows() == 0 || b.columns == 0 {
        return;
    }
    let blocks = b.depth.div_ceil(DEPTH_BLOCK).max(1);
    let block = b.depth.div_ceil(blocks).div_ceil(STEP) * STEP;
    let Output { values, stride, bias, residual, relu } = c;
    let mut start = 0;
    loop {
        let end = (start + block).min(b.depth);
        let last = end == b.depth;
        let store = Store { stride, first: (start == 0).then_some(Addends { bias, residual }), relu: relu && last };
        match S::F32_LANES {
            16 => sweep::<S, 12, 2, 1>(simd, a, b, start..end, values, &store),
            8 => sweep::<S, 6, 1, 2>(simd, a, b, start..end, values, &store),
            4 => sweep::<S, 3, 1, 4>(simd, a, b, start..end, values, &store),
            _ => sweep::<S, 4, 1, 16>(simd, a, b, start..end, values, &store),
        }
        if last {
            break;
        }
        start = end;
    }
}

/// How one block's sums are stored: onto `C`, or, for the first block,
/// onto the bias and residual; then ReLU, after the last block.
struct Store<'a> {
    stride: usize,
    first: Option<Addends<'a>>,
    relu: bool,
}

/// What the first block's sums are added to.
#[derive(Clone, Copy)]
struct Addends<'a> {
    bias: Option<&'a [f32]>,
    residual: Option<&'a [f32]>,
}

/// One block `depth` of the shared dimension: every tile of `MR` rows and
/// `P` panels (`V` vectors per panel), then the remaining panels one at a
/// time; with a kernel that has no code for a last run shorter than STEP
/// when the block has none (the sums stay in registers from one run to the
/// next only in a loop without that branch).
#[inline(always)]
fn sweep<S: Simd, const MR: usize, const P: usize, const V: usize>(
    simd: S,
    a: &impl Source,
    b: &Packed,
    depth: std::ops::Range<usize>,
    c: &mut [f32],
    store: &Store<'_>,
) {
    let panels = b.columns.div_ceil(PANEL);
    let steps = (depth.end - depth.start).div_ceil(STEP);
    let tail = !(depth.end - depth.start).is_multiple_of(STEP);
    // Column tiles outside, row tiles inside: a tile's panels of `B` (one
    // block of them, 32 KiB) stay in L1 while the kernel walks down `A`,
    // which streams from L2.
    let mut p = 0;
    while p < panels {
        let wide = p + P <= panels;
        let mut b_panels: [&[[[f32; PANEL]; STEP]]; P] = [&[]; P];
        for (q, panel) in b_panels.iter_mut().enumerate().take(if wide { P } else { 1 }) {
            *panel = &b.panel(p + q, depth.start)[..steps];
        }
        let mut first_row = 0;
        while first_row < a.rows() {
            // A tile past the last row reads the last row again and drops
            // the sums: the kernel stays fully unrolled.
            let mut starts = [0; MR];
            a.starts(first_row, &mut starts);
            let rows = TileRows { starts, depth: depth.clone() };
            let at =
                Tile { first_row, rows: MR.min(a.rows() - first_row), first_column: p * PANEL, columns: b.columns };
            match (wide, tail) {
                (true, false) => tile::<S, MR, P, V, false>(simd, a, &rows, b_panels, c, store, at),
                (true, true) => tile::<S, MR, P, V, true>(simd, a, &rows, b_panels, c, store, at),
                (false, false) => tile::<S, MR, 1, V, false>(simd, a, &rows, [b_panels[0]], c, store, at),
                (false, true) => tile::<S, MR, 1, V, true>(simd, a, &rows, [b_panels[0]], c, store, at),
            }
            first_row += MR;
        }
        p += if wide { P } else { 1 };
    }
}

/// A tile's rows of `A`: where each starts, and the block of the shared
/// dimension the kernel reads.
#[derive(Debug, Clone)]
struct TileRows<const MR: usize> {
    starts: [usize; MR],
    depth: std::ops::Range<usize>,
}

/// The values of a vector, or of its first lanes (zeros after). (A
/// function, not a closure: closures are compiled apart from the
/// dispatched instructions, and a call makes the sums leave their
/// registers.)
#[inline(always)]
pub(crate) fn load<S: Simd>(simd: S, values: &[f32]) -> S::f32s {
    if values.len() == S::F32_LANES { S::as_simd_f32s(values).0[0] } else { simd.partial_load_f32s(values) }
}

/// Stores a vector into `values`, or its first lanes into a shorter one.
#[inline(always)]
pub(crate) fn store_vector<S: Simd>(simd: S, values: &mut [f32], value: S::f32s) {
    if values.len() == S::F32_LANES {
        S::as_mut_simd_f32s(values).0[0] = value;
    } else {
        simd.partial_store_f32s(values, value);
    }
}

/// One run of STEP values of the shared dimension: `sums[i] += a[i][k] ·
/// b[k]` for each `k`.
#[inline(always)]
fn accumulate<S: Simd, const MR: usize, const P: usize, const V: usize>(
    simd: S,
    sums: &mut [[[S::f32s; V]; P]; MR],
    a: [&[f32; STEP]; MR],
    b: [&[[f32; PANEL]; STEP]; P],
) {
    for kk in 0..STEP {
        let mut vectors = [[simd.splat_f32s(0.0); V]; P];
        for (vectors, panel) in vectors.iter_mut().zip(&b) {
            vectors.copy_from_slice(&S::as_simd_f32s(&panel[kk]).0[..V]);
        }
        for (sums, a) in sums.iter_mut().zip(a) {
            let a = simd.splat_f32s(a[kk]);
            for (sums, b) in sums.iter_mut().zip(&vectors) {
                for (sum, &b) in sums.iter_mut().zip(b) {
                    *sum = simd.mul_add_f32s(a, b, *sum);
                }
            }
        }
    }
}

/// Where a tile's sums go: rows `first_row..first_row + rows` of `C` (a
/// tile past the last row has fewer than its height), its columns from
/// `first_column` up to `C`'s `columns`.
#[derive(Debug, Clone, Copy)]
struct Tile {
    first_row: usize,
    rows: usize,
    first_column: usize,
    columns: usize,
}

/// The micro-kernel: stores `rows · panels` (`MR × P · PANEL`) into the
/// tile `at` of `C`, as `store` says.
#[allow(clippy::needless_range_loop, reason = "indices known at compile time keep the sums in registers")]
#[inline(always)]
fn tile<S: Simd, const MR: usize, const P: usize, const V: usize, const TAIL: bool>(
    simd: S,
    a_source: &impl Source,
    rows: &TileRows<MR>,
    panels: [&[[[f32; PANEL]; STEP]]; P],
    c: &mut [f32],
    store: &Store<'_>,
    at: Tile,
) {
    let lanes = S::F32_LANES;
    let zero = simd.splat_f32s(0.0);
    let mut sums = [[[zero; V]; P]; MR];
    // A row's next STEP values are read in place, through a reference to
    // an array (so the kernel's indices are known at compile time and need
    // no check). A last run that ends before STEP values is copied, zeros
    // after it, into `tails` (the panels' rows past the block are zeros
    // too), without a function call (a `memcpy` of unknown length), around
    // which the sums would be saved and restored.
    let values = a_source.values();
    let length = rows.depth.end - rows.depth.start;
    let mut tails = [[0.0; STEP]; MR];
    for step in 0..panels[0].len() {
        let mut b: [&[[f32; PANEL]; STEP]; P] = [&panels[0][step]; P];
        for (b, panel) in b.iter_mut().zip(&panels) {
            *b = &panel[step];
        }
        let k = rows.depth.start + step * STEP;
        let column = a_source.column(k);
        let mut a: [&[f32; STEP]; MR] = [&[0.0; STEP]; MR];
        if !TAIL || (step + 1) * STEP <= length {
            for (a, &start) in a.iter_mut().zip(&rows.starts) {
                *a = values[start + column..][..STEP].try_into().expect("STEP values");
            }
        } else {
            let valid = length - step * STEP;
            for ((a, tail), &start) in a.iter_mut().zip(&mut tails).zip(&rows.starts) {
                for (j, value) in tail.iter_mut().enumerate() {
                    *value = if j < valid { values[start + column + j] } else { 0.0 };
                }
                *a = tail;
            }
        }
        accumulate(simd, &mut sums, a, b);
    }
    // Every index into `sums` is known at compile time, here too (hence the
    // index loops): one the compiler could not resolve would keep the sums
    // in memory, stored at every step of the loop above.
    let width = (P * PANEL).min(at.columns - at.first_column);
    'rows: for i in 0..MR {
        if i >= at.rows {
            break;
        }
        let row = (at.first_row + i) * store.stride + at.first_column;
        let out = &mut c[row..][..width];
        for q in 0..P {
            for v in 0..V {
                let first = q * PANEL + v * lanes;
                if first >= width {
                    continue 'rows;
                }
                let columns = first..(first + lanes).min(width);
                let base = match store.first {
                    None => load(simd, &out[columns.clone()]),
                    Some(Addends { bias, residual }) => {
                        let bias = match bias {
                            Some(bias) => load(simd, &bias[at.first_column..][columns.clone()]),
                            None => zero,
                        };
                        match residual {
                            Some(residual) => simd.add_f32s(bias, load(simd, &residual[row..][columns.clone()])),
                            None => bias,
                        }
                    }
                };
                let mut value = simd.add_f32s(base, sums[i][q][v]);
                if store.relu {
                    value = simd.max_f32s(value, zero);
                }
                store_vector(simd, &mut out[columns], value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The product with bias, residual and ReLU, of every tile shape, edge
    /// and number of depth blocks, against a plain triple loop, under each instruction set the processor has.
    #[test]
    fn products_match_the_plain_sum() {
        struct Check;
        impl pulp::WithSimd for Check {
            type Output = ();
            fn with_simd<S: Simd>(self, simd: S) {
                for (m, depth, n) in
                    [(1, 1, 1), (5, 3, 7), (13, 9, 16), (25, 300, 33), (12, 520, 64), (40, 27, 48), (7, 600, 20)]
                {
                    let a: Vec<f32> = (0..m * (depth + 2)).map(|i| ((i * 7 % 13) as f32 - 6.0) / 8.0).collect();
                    let w: Vec<f32> = (0..depth * n).map(|i| ((i * 5 % 11) as f32 - 5.0) / 4.0).collect();
                    let stride = n + 3;
                    let bias: Vec<f32> = (0..n).map(|j| j as f32 - 2.0).collect();
                    let residual: Vec<f32> = (0..m * stride).map(|i| (i % 5) as f32 - 1.0).collect();
                    let relu = m % 2 == 1;
                    // Values between the rows stay as they are.
                    let mut c: Vec<f32> = (0..m * stride).map(|i| i as f32).collect();
                    let mut expected = c.clone();
                    for i in 0..m {
                        for j in 0..n {
                            let sum: f64 =
                                (0..depth).map(|k| f64::from(a[i * (depth + 2) + k]) * f64::from(w[k * n + j])).sum();
                            let value = bias[j] + residual[i * stride + j] + sum as f32;
                            expected[i * stride + j] = if relu { value.max(0.0) } else { value };
                        }
                    }
                    let rows = Rows { values: &a, rows: m, stride: depth + 2 };
                    let output = Output { values: &mut c, stride, bias: Some(&bias), residual: Some(&residual), relu };
                    gemm(simd, &rows, &Packed::new(&w, depth, n), output);
                    for (index, (got, want)) in c.iter().zip(&expected).enumerate() {
                        assert!(
                            (got - want).abs() <= 1e-4 * (1.0 + want.abs()),
                            "{m}×{depth}×{n} at {index}: {got} vs {want}"
                        );
                    }
                }
            }
        }
        pulp::Arch::new().dispatch(Check);
        #[cfg(target_arch = "x86_64")]
        if let Some(avx2) = pulp::x86::V3::try_new() {
            Simd::vectorize(avx2, Check);
        }
        Simd::vectorize(pulp::Scalar::new(), Check);
    }
}
