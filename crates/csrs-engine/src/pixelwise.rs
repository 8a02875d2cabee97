//! Convolutions of small outputs, one matrix product per output pixel.
//!
//! On a small output most pixels lie on the border, and a border pixel's
//! window reaches into the zero padding: a 3×3 convolution with padding 1
//! on a 2×2 output has 4 of its 9 taps inside the image at every pixel, so
//! the windowed product would spend 5 of every 9 multiplications on zeros.
//! Here each output pixel is one product over the batch: its rows are the
//! images, its shared dimension only the taps inside the image, read in
//! place from the unpadded input ([`Gather`]), and its weights the rows of
//! those taps, packed at compile time once per set of taps (pixels on the
//! same border share one). Nothing is padded or copied at run time.

use pulp::Simd;

use crate::compile::Conv;
use crate::gemm::{Gather, Output, Packed, Rows, STEP, gemm};

/// Output pixels up to which a convolution is computed pixel by pixel: the
/// layers whose borders are most of them.
const MAX_PIXELS: usize = 64;

/// A convolution's weights for each set of taps inside the image, and the
/// taps of each output pixel.
#[derive(Debug, Clone)]
pub(crate) struct Pixelwise {
    /// The rows (tap, input channel) of the taps of one set, packed.
    weights: Vec<Packed>,
    /// Row-major over the output, each pixel's taps.
    pixels: Vec<Taps>,
}

/// The taps of one output pixel inside the image.
#[derive(Debug, Clone)]
struct Taps {
    /// Which of [`Pixelwise::weights`] they multiply.
    weights: usize,
    /// Where each run of [`STEP`] of the pixel's row starts in an image.
    steps: Vec<usize>,
}

impl Pixelwise {
    /// Whether a convolution whose windows the product could read in place
    /// ([`Conv::is_windowed`]: input channels in whole runs) is computed
    /// pixel by pixel instead: when its output is small.
    pub(crate) fn applies(conv: &Conv) -> bool {
        let [oh, ow, _] = conv.output_hwc;
        conv.is_windowed() && oh * ow <= MAX_PIXELS
    }

    /// Packs `weight` (rows (ky, kx, input channel), a column per output
    /// channel, as [`Conv::weight`]) for each set of taps of `conv`.
    pub(crate) fn new(weight: &[f32], conv: &Conv) -> Self {
        let [h, w, cin] = conv.input_hwc;
        let [oh, ow, cout] = conv.output_hwc;
        let [kh, kw] = conv.kernel;
        let [sh, sw] = conv.stride;
        let [dh, dw] = conv.dilation;
        let [top, left, _, _] = conv.padding;
        let mut sets: Vec<Vec<usize>> = Vec::new();
        let mut weights = Vec::new();
        let mut pixels = Vec::with_capacity(oh * ow);
        for (oy, ox) in (0..oh).flat_map(|oy| (0..ow).map(move |ox| (oy, ox))) {
            // Taps inside the image, and where each starts in it.
            let (mut taps, mut steps) = (Vec::new(), Vec::new());
            for (ky, kx) in (0..kh).flat_map(|ky| (0..kw).map(move |kx| (ky, kx))) {
                let iy = (oy * sh + ky * dh).wrapping_sub(top);
                let ix = (ox * sw + kx * dw).wrapping_sub(left);
                if iy < h && ix < w {
                    taps.push(ky * kw + kx);
                    steps.extend((0..cin).step_by(STEP).map(|channel| (iy * w + ix) * cin + channel));
                }
            }
            let set = sets.iter().position(|set| *set == taps).unwrap_or_else(|| {
                let rows: Vec<f32> =
                    taps.iter().flat_map(|tap| &weight[tap * cin * cout..(tap + 1) * cin * cout]).copied().collect();
                weights.push(Packed::new(&rows, taps.len() * cin, cout));
                sets.push(taps);
                sets.len() - 1
            });
            pixels.push(Taps { weights: set, steps });
        }
        Self { weights, pixels }
    }
}

/// The output pixels `out` (`images` images, each `pixel` values per output
/// pixel with this convolution's channels from `offset`) of the unpadded
/// images `x` (`in_len` values each): bias, plus residual (laid out like
/// `out`), plus the convolution, then ReLU if asked.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn convolve<S: Simd>(
    simd: S,
    pixelwise: &Pixelwise,
    x: &[f32],
    [images, in_len]: [usize; 2],
    [pixel, offset]: [usize; 2],
    bias: &[f32],
    residual: Option<&[f32]>,
    relu: bool,
    out: &mut [f32],
) {
    let image_len = pixelwise.pixels.len() * pixel;
    for (p, taps) in pixelwise.pixels.iter().enumerate() {
        let rows = Gather { rows: Rows { values: x, rows: images, stride: in_len }, steps: &taps.steps };
        let output = Output {
            values: &mut out[p * pixel + offset..],
            stride: image_len,
            bias: Some(bias),
            residual: residual.map(|r| &r[p * pixel..]),
            relu,
        };
        gemm(simd, &rows, &pixelwise.weights[taps.weights], output);
    }
}
