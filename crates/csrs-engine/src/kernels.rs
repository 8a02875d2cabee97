//! The steps' computations on NHWC buffers of a whole batch.

use csrs_models::graph::{Activation, Window};
use pulp::Simd;

use crate::compile::{Conv, Pooling, Step};
use crate::gemm::{Output, Rows, Windows, gemm, load, store_vector};
use crate::{pixelwise, winograd};

/// Runs `step` on the first `batch` examples of the workspace's slots.
///
/// This and the kernels below are inlined into [`crate::Engine::run`]'s
/// body, which runs under [`pulp::Arch::dispatch`]: their loops are compiled
/// for the widest vector instructions the processor has (AVX-512 or AVX2
/// with FMA), chosen at run time.
#[inline(always)]
pub(crate) fn run<S: Simd>(simd: S, step: &Step, slots: &mut [Vec<f32>], col: &mut [f32], batch: usize) {
    // The output buffer leaves the slot list while the step reads the
    // others, so inputs and output can be borrowed at once.
    let output = match step {
        Step::Conv(conv) => conv.output,
        Step::Pool { output, .. }
        | Step::GlobalAvgPool { output, .. }
        | Step::Linear { output, .. }
        | Step::Affine { output, .. }
        | Step::Activation { output, .. }
        | Step::Binary { output, .. }
        | Step::Concat { output, .. } => *output,
    };
    let mut out = std::mem::take(&mut slots[output]);
    let slots_in: &[Vec<f32>] = slots;
    match step {
        Step::Conv(conv) => convolution(simd, conv, slots_in, col, &mut out, batch),
        &Step::Pool { input, input_hwc, output_hw, window, pooling, .. } => {
            pool(&slots_in[input], &mut out, batch, input_hwc, output_hw, window, pooling);
        }
        &Step::GlobalAvgPool { input, pixels, channels, .. } => {
            let scale = 1.0 / pixels as f32;
            for (x, y) in
                slots_in[input].chunks_exact(pixels * channels).zip(out.chunks_exact_mut(channels)).take(batch)
            {
                y.fill(0.0);
                for pixel in x.chunks_exact(channels) {
                    y.iter_mut().zip(pixel).for_each(|(sum, v)| *sum += v);
                }
                y.iter_mut().for_each(|v| *v *= scale);
            }
        }
        Step::Linear { input, inputs, outputs, weight, bias, activation, .. } => {
            let y = &mut out[..batch * outputs];
            let x = Rows { values: &slots_in[*input][..batch * inputs], rows: batch, stride: *inputs };
            let relu = *activation == Some(Activation::Relu);
            gemm(simd, &x, weight, Output { values: y, stride: *outputs, bias: Some(bias), residual: None, relu });
            if !relu {
                activate(y, *activation);
            }
        }
        // Elementwise steps run over the batch's values (buffers are shared
        // by values of several sizes, each holding its examples from the
        // start).
        Step::Affine { input, values, scale, shift, activation, .. } => {
            let (y, x) = (&mut out[..batch * values], &slots_in[*input][..batch * values]);
            let period = scale.len();
            for (y, x) in y.chunks_exact_mut(period).zip(x.chunks_exact(period)) {
                for ((y, x), (s, b)) in y.iter_mut().zip(x).zip(scale.iter().zip(shift)) {
                    *y = x.mul_add(*s, *b);
                }
            }
            activate(y, *activation);
        }
        &Step::Activation { input, values, activation, .. } => {
            let len = batch * values;
            out[..len].iter_mut().zip(&slots_in[input][..len]).for_each(|(y, x)| *y = activation.apply(*x));
        }
        &Step::Binary { a, b, values, op, activation, .. } => {
            let len = batch * values;
            for ((y, x), z) in out[..len].iter_mut().zip(&slots_in[a][..len]).zip(&slots_in[b][..len]) {
                *y = op.apply(*x, *z);
            }
            activate(&mut out[..len], activation);
        }
        &Step::Concat { ref inputs, pixels, channels, .. } => {
            for image in 0..batch {
                let y = &mut out[image * pixels * channels..][..pixels * channels];
                for &(slot, c, first) in inputs {
                    let x = &slots_in[slot][image * pixels * c..][..pixels * c];
                    for (dst, src) in y.chunks_exact_mut(channels).zip(x.chunks_exact(c)) {
                        dst[first..first + c].copy_from_slice(src);
                    }
                }
            }
        }
    }
    slots[output] = out;
}

/// The activation over `values`, if there is one.
#[inline(always)]
fn activate(values: &mut [f32], activation: Option<Activation>) {
    match activation {
        None => {}
        // The common case, as its own loop, which vectorises fully.
        Some(Activation::Relu) => values.iter_mut().for_each(|v| *v = v.max(0.0)),
        Some(activation) => values.iter_mut().for_each(|v| *v = activation.apply(*v)),
    }
}

/// A convolution, a group of images at a time: the bias, plus the
/// residual if any, plus the convolution proper, then the activation. Most
/// convolutions are matrix products ([`gemm`], which adds the bias and
/// residual and applies a ReLU as it stores): of the zero-padded input's
/// windows, read in place when every tap's channels are whole runs of the
/// kernel's ([`Windows`]); one per output pixel for a small output
/// ([`pixelwise`]); of Winograd's transforms ([`winograd`]); of the pixels
/// themselves for a 1×1 convolution with stride 1; otherwise of an im2col
/// matrix per channel group, with images grouped so that one product has
/// enough rows to run at speed while its matrix stays in cache. A first
/// layer of few channels in and out runs plane by plane
/// ([`planar_convolution`]), a depthwise one tap by tap
/// ([`depthwise_convolution`]); these add onto the bias and residual,
/// filled first.
#[inline(always)]
fn convolution<S: Simd>(simd: S, conv: &Conv, slots: &[Vec<f32>], col: &mut [f32], out: &mut [f32], batch: usize) {
    let [h, w, cin] = conv.input_hwc;
    let [oh, ow, cout] = conv.output_hwc;
    // A pixel of the output buffer holds `pixel` values, this
    // convolution's `cout` from `offset` (all of them, unless it writes its
    // part of a concat; a convolution with a residual writes all of them).
    let [pixel, offset] = conv.output_pixel;
    let (in_len, out_len) = (h * w * cin, oh * ow * pixel);
    let rows = oh * ow;
    let depth = conv.depth();
    let whole_batch = conv.is_pointwise()
        || conv.is_planar()
        || conv.is_depthwise()
        || conv.pixelwise.is_some()
        || conv.winograd.is_some();
    let group = if whole_batch { batch } else { (col.len() / conv.col_size()).clamp(1, batch) };
    let relu = conv.is_product() && conv.activation == Some(Activation::Relu);
    let mut first = 0;
    while first < batch {
        let images = group.min(batch - first);
        let y = &mut out[first * out_len..(first + images) * out_len];
        let residual = conv.residual.map(|slot| &slots[slot][first * out_len..(first + images) * out_len]);
        let x = &slots[conv.input][first * in_len..(first + images) * in_len];
        if !conv.is_product() {
            match residual {
                Some(r) => {
                    for (y, r) in y.chunks_exact_mut(cout).zip(r.chunks_exact(cout)) {
                        y.iter_mut().zip(r).zip(&conv.bias).for_each(|((y, r), b)| *y = r + b);
                    }
                }
                None => {
                    y.chunks_exact_mut(pixel).for_each(|row| row[offset..offset + cout].copy_from_slice(&conv.bias));
                }
            }
        }
        if let Some(winograd) = &conv.winograd {
            winograd::convolve(
                simd,
                winograd,
                x,
                col,
                images,
                [oh, ow],
                conv.output_pixel,
                &conv.bias,
                residual,
                relu,
                y,
            );
        } else if let Some(pixelwise) = &conv.pixelwise {
            let bias = &conv.bias;
            pixelwise::convolve(simd, pixelwise, x, [images, in_len], conv.output_pixel, bias, residual, relu, y);
        } else if conv.is_planar() {
            planar_convolution(simd, conv, x, col, y);
        } else if conv.is_depthwise() {
            depthwise_convolution(conv, x, y);
        } else if conv.is_pointwise() {
            let pixels = Rows { values: x, rows: images * rows, stride: depth };
            gemm(simd, &pixels, &conv.packed[0], output(conv, y, residual, 0..cout, relu));
        } else if conv.is_windowed() {
            let padded_len = conv.col_size();
            let padded = &mut col[..images * padded_len];
            pad(x, conv, conv.padded_hw(), padded);
            let windows = Windows {
                values: padded,
                images,
                output_hw: [oh, ow],
                padded_hw: conv.padded_hw(),
                stride: conv.stride,
                channels: cin,
                steps: &conv.window_steps,
            };
            gemm(simd, &windows, &conv.packed[0], output(conv, y, residual, 0..cout, relu));
        } else {
            let (cin_group, cout_group) = (conv.group_channels_in(), conv.group_channels_out());
            for (g, weight) in conv.packed.iter().enumerate() {
                let col = &mut col[..images * rows * depth];
                for (image, col) in x.chunks_exact(in_len).zip(col.chunks_exact_mut(rows * depth)) {
                    im2col(image, conv, g * cin_group, col);
                }
                let patches = Rows { values: col, rows: images * rows, stride: depth };
                gemm(simd, &patches, weight, output(conv, y, residual, g * cout_group..(g + 1) * cout_group, relu));
            }
        }
        if !relu {
            if pixel == cout {
                activate(y, conv.activation);
            } else {
                y.chunks_exact_mut(pixel).for_each(|row| activate(&mut row[offset..offset + cout], conv.activation));
            }
        }
        first += images;
    }
}

/// Where a product of `conv` writes output channels `columns` (a
/// column block of the output's rows of `pixel` values), and what it adds.
#[inline(always)]
fn output<'a>(
    conv: &'a Conv,
    y: &'a mut [f32],
    residual: Option<&'a [f32]>,
    columns: std::ops::Range<usize>,
    relu: bool,
) -> Output<'a> {
    let [pixel, offset] = conv.output_pixel;
    Output {
        values: &mut y[offset + columns.start..],
        stride: pixel,
        bias: Some(&conv.bias[columns.clone()]),
        residual: residual.map(|r| &r[columns.start..]),
        relu,
    }
}

/// Adds a depthwise convolution (one filter per channel) of the images `x`
/// onto `y`: for each output pixel and tap, one multiply-add over the
/// pixel's channels, which are contiguous in NHWC, as is the tap's row of
/// weights.
#[inline(always)]
fn depthwise_convolution(conv: &Conv, x: &[f32], y: &mut [f32]) {
    let [h, w, c] = conv.input_hwc;
    let [oh, ow, _] = conv.output_hwc;
    let [pixel, offset] = conv.output_pixel;
    let [kh, kw] = conv.kernel;
    let [sh, sw] = conv.stride;
    let [dh, dw] = conv.dilation;
    let [top, left, _, _] = conv.padding;
    for (x, y) in x.chunks_exact(h * w * c).zip(y.chunks_exact_mut(oh * ow * pixel)) {
        for oy in 0..oh {
            for ox in 0..ow {
                let dst = &mut y[(oy * ow + ox) * pixel + offset..][..c];
                for ky in 0..kh {
                    let iy = (oy * sh + ky * dh).wrapping_sub(top);
                    if iy >= h {
                        continue;
                    }
                    for kx in 0..kw {
                        let ix = (ox * sw + kx * dw).wrapping_sub(left);
                        if ix >= w {
                            continue;
                        }
                        let src = &x[(iy * w + ix) * c..][..c];
                        let weight = &conv.weight[(ky * kw + kx) * c..][..c];
                        for ((d, s), k) in dst.iter_mut().zip(src).zip(weight) {
                            *d = s.mul_add(*k, *d);
                        }
                    }
                }
            }
        }
    }
}

/// Adds a stride-1 convolution of few input channels of the images `x` onto
/// `y`, an image at a time: its channels are copied into zero-padded planes,
/// and each output plane is a sum of `cin · kh · kw` shifted input planes
/// times one weight each. With output rows as wide as the padded input rows,
/// each shift is contiguous, so a vector of output pixels is a multiply-add
/// per tap of one vector of input pixels (the columns past the output's
/// width are computed and dropped), for every output channel at once: their
/// sums stay in registers, `CO` of them (the output channels rounded up;
/// the packed weights are zeros past the last).
#[inline(always)]
fn planar_convolution<S: Simd>(simd: S, conv: &Conv, x: &[f32], scratch: &mut [f32], y: &mut [f32]) {
    match conv.output_hwc[2] {
        0..=4 => planar::<S, 4>(simd, conv, x, scratch, y),
        5..=8 => planar::<S, 8>(simd, conv, x, scratch, y),
        _ => planar::<S, 16>(simd, conv, x, scratch, y),
    }
}

/// [`planar_convolution`] with sums for `CO` output channels.
#[allow(clippy::needless_range_loop, reason = "indices known at compile time keep the sums in registers")]
#[inline(always)]
fn planar<S: Simd, const CO: usize>(simd: S, conv: &Conv, x: &[f32], scratch: &mut [f32], y: &mut [f32]) {
    let [h, w, cin] = conv.input_hwc;
    let [oh, ow, cout] = conv.output_hwc;
    let [kh, kw] = conv.kernel;
    let [top, left, _, _] = conv.padding;
    let [ph, pw] = conv.padded_hw();
    let (plane_in, plane_out) = (ph * pw + kw - 1, oh * pw);
    let (planes, sums) = scratch.split_at_mut(cin * plane_in);
    let sums = &mut sums[..cout * plane_out];
    let weights = &conv.packed[0];
    // The borders stay zero: only the inside is written, image after image.
    planes.fill(0.0);
    let [pixel_len, offset] = conv.output_pixel;
    let (in_len, out_len) = (h * w * cin, oh * ow * pixel_len);
    let lanes = S::F32_LANES;
    for (x, y) in x.chunks_exact(in_len).zip(y.chunks_exact_mut(out_len)) {
        for (pixel, values) in x.chunks_exact(cin).enumerate() {
            let at = (pixel / w + top) * pw + pixel % w + left;
            for (channel, &value) in values.iter().enumerate() {
                planes[channel * plane_in + at] = value;
            }
        }
        for first in (0..plane_out).step_by(lanes) {
            let len = lanes.min(plane_out - first);
            let mut vectors = [simd.splat_f32s(0.0); CO];
            for (ci, plane) in planes.chunks_exact(plane_in).enumerate() {
                for ky in 0..kh {
                    for kx in 0..kw {
                        let shifted = load(simd, &plane[ky * pw + kx + first..][..len]);
                        let row = weights.row((ky * kw + kx) * cin + ci);
                        for co in 0..CO {
                            vectors[co] = simd.mul_add_f32s(simd.splat_f32s(row[co]), shifted, vectors[co]);
                        }
                    }
                }
            }
            for co in 0..CO.min(cout) {
                store_vector(simd, &mut sums[co * plane_out + first..][..len], vectors[co]);
            }
        }
        for (co, sum) in sums.chunks_exact(plane_out).enumerate() {
            for (oy, row) in sum.chunks_exact(pw).enumerate() {
                for (ox, &v) in row[..ow].iter().enumerate() {
                    y[(oy * ow + ox) * pixel_len + offset + co] += v;
                }
            }
        }
    }
}

/// Copies each NHWC image of `x` into its image of `padded` (`padded_hw`
/// pixels each), inside the convolution's zero border (and zeros below and
/// right of it, to `padded_hw`).
#[inline(always)]
fn pad(x: &[f32], conv: &Conv, [ph, pw]: [usize; 2], padded: &mut [f32]) {
    let [h, w, c] = conv.input_hwc;
    for (x, padded) in x.chunks_exact(h * w * c).zip(padded.chunks_exact_mut(ph * pw * c)) {
        pad_image(x, conv, pw, padded);
    }
}

/// [`pad`] for one image.
#[inline(always)]
fn pad_image(x: &[f32], conv: &Conv, pw: usize, padded: &mut [f32]) {
    let [h, w, c] = conv.input_hwc;
    let [top, left, _, _] = conv.padding;
    let row_len = pw * c;
    let (above, rest) = padded.split_at_mut(top * row_len);
    above.fill(0.0);
    let (inside, below) = rest.split_at_mut(h * row_len);
    below.fill(0.0);
    for (row, source) in inside.chunks_exact_mut(row_len).zip(x.chunks_exact(w * c)) {
        let (before, row) = row.split_at_mut(left * c);
        before.fill(0.0);
        let (row, after) = row.split_at_mut(w * c);
        row.copy_from_slice(source);
        after.fill(0.0);
    }
}

/// Row (oy, ox) of `col` holds the patch under that output pixel of the
/// input channels `first..first + channels_in / groups`, ordered (ky, kx,
/// channel); zeros outside the image. Inside the image, without dilation
/// and groups, the kw × c values of one kernel row are contiguous in the
/// NHWC input: one copy each.
#[inline(always)]
fn im2col(x: &[f32], conv: &Conv, first: usize, col: &mut [f32]) {
    let [h, w, c] = conv.input_hwc;
    let [oh, ow, _] = conv.output_hwc;
    let [kh, kw] = conv.kernel;
    let [sh, sw] = conv.stride;
    let [dh, dw] = conv.dilation;
    let [top, left, _, _] = conv.padding;
    let cg = conv.group_channels_in();
    let depth = kh * kw * cg;
    let span = kw * cg;
    let contiguous = dw == 1 && cg == c;
    for oy in 0..oh {
        for ox in 0..ow {
            let row = &mut col[(oy * ow + ox) * depth..][..depth];
            let ix0 = (ox * sw).wrapping_sub(left);
            let inside = ix0 < w && ix0 + (kw - 1) * dw < w;
            for ky in 0..kh {
                let iy = (oy * sh + ky * dh).wrapping_sub(top);
                let segment = &mut row[ky * span..][..span];
                if iy >= h {
                    segment.fill(0.0);
                } else if inside && contiguous {
                    segment.copy_from_slice(&x[(iy * w + ix0) * c..][..span]);
                } else {
                    for kx in 0..kw {
                        let ix = ix0.wrapping_add(kx * dw);
                        let dst = &mut segment[kx * cg..][..cg];
                        if ix < w {
                            dst.copy_from_slice(&x[(iy * w + ix) * c + first..][..cg]);
                        } else {
                            dst.fill(0.0);
                        }
                    }
                }
            }
        }
    }
}

#[inline(always)]
fn pool(
    x: &[f32],
    out: &mut [f32],
    batch: usize,
    [h, w, c]: [usize; 3],
    [oh, ow]: [usize; 2],
    window: Window,
    pooling: Pooling,
) {
    let [kh, kw] = window.kernel;
    let [sh, sw] = window.stride;
    let [top, left, _, _] = window.padding;
    for image in 0..batch {
        let x = &x[image * h * w * c..][..h * w * c];
        let y = &mut out[image * oh * ow * c..][..oh * ow * c];
        for oy in 0..oh {
            for ox in 0..ow {
                let dst = &mut y[(oy * ow + ox) * c..][..c];
                dst.fill(match pooling {
                    Pooling::Max => f32::NEG_INFINITY,
                    Pooling::Average { .. } => 0.0,
                });
                let mut inside = 0usize;
                for ky in 0..kh {
                    let iy = (oy * sh + ky).wrapping_sub(top);
                    for kx in 0..kw {
                        let ix = (ox * sw + kx).wrapping_sub(left);
                        if iy < h && ix < w {
                            inside += 1;
                            let src = &x[(iy * w + ix) * c..][..c];
                            match pooling {
                                Pooling::Max => dst.iter_mut().zip(src).for_each(|(m, v)| *m = m.max(*v)),
                                Pooling::Average { .. } => dst.iter_mut().zip(src).for_each(|(s, v)| *s += v),
                            }
                        }
                    }
                }
                if let Pooling::Average { count_padding } = pooling {
                    let divisor = if count_padding { kh * kw } else { inside };
                    let scale = 1.0 / divisor as f32;
                    dst.iter_mut().for_each(|v| *v *= scale);
                }
            }
        }
    }
}
