//! The steps' computations on NHWC buffers of a whole batch.

use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayView2, ArrayViewMut2};

use crate::compile::{Conv, Step};

/// Runs `step` on the first `batch` examples of the workspace's slots.
///
/// This and the kernels below are inlined into [`crate::Engine::run`]'s
/// body, which runs under [`pulp::Arch::dispatch`]: their loops are compiled
/// for the widest vector instructions the processor has (AVX-512 or AVX2
/// with FMA), chosen at run time.
#[inline(always)]
pub(crate) fn run(step: &Step, slots: &mut [Vec<f32>], col: &mut [f32], batch: usize) {
    // The output buffer leaves the slot list while the step reads the
    // others, so inputs and output can be borrowed at once.
    let output = match step {
        Step::Conv(conv) => conv.output,
        Step::MaxPool { output, .. }
        | Step::GlobalAvgPool { output, .. }
        | Step::Linear { output, .. }
        | Step::Relu { output, .. }
        | Step::Add { output, .. } => *output,
    };
    let mut out = std::mem::take(&mut slots[output]);
    let slots_in: &[Vec<f32>] = slots;
    match step {
        Step::Conv(conv) => convolution(conv, slots_in, col, &mut out, batch),
        &Step::MaxPool { input, input_hwc, output_hw, kernel, stride, padding, .. } => {
            max_pool(&slots_in[input], &mut out, batch, input_hwc, output_hw, [kernel, stride, padding]);
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
        Step::Linear { input, inputs, outputs, weight, bias, relu, .. } => {
            let y = &mut out[..batch * outputs];
            for row in y.chunks_exact_mut(*outputs) {
                row.copy_from_slice(bias);
            }
            let x = ArrayView2::from_shape((batch, *inputs), &slots_in[*input][..batch * inputs]).expect("sized");
            let w = ArrayView2::from_shape((*inputs, *outputs), weight).expect("sized");
            let mut y = ArrayViewMut2::from_shape((batch, *outputs), y).expect("sized");
            general_mat_mul(1.0, &x, &w, 1.0, &mut y);
            if *relu {
                y.iter_mut().for_each(|v| *v = v.max(0.0));
            }
        }
        // Elementwise steps run over the whole buffer: past `batch`
        // examples they compute values nothing reads.
        &Step::Relu { input, .. } => {
            out.iter_mut().zip(&slots_in[input]).for_each(|(y, x)| *y = x.max(0.0));
        }
        &Step::Add { a, b, relu, .. } => {
            let len = out.len();
            for ((y, x), z) in out.iter_mut().zip(&slots_in[a][..len]).zip(&slots_in[b][..len]) {
                let sum = x + z;
                *y = if relu { sum.max(0.0) } else { sum };
            }
        }
    }
    slots[output] = out;
}

/// A convolution, a group of images at a time: output = bias (+ residual),
/// plus the convolution proper, then ReLU. Most convolutions are im2col(x) · W,
/// with images grouped so that one matrix product has enough rows to run at
/// speed while the im2col matrix stays in cache (small layers such as
/// LeNet's would otherwise be dominated by per-product overhead); a 1×1
/// convolution with stride 1 multiplies the whole batch at once; a first
/// layer of few channels runs plane by plane ([`planar_convolution`]).
#[inline(always)]
fn convolution(conv: &Conv, slots: &[Vec<f32>], col: &mut [f32], out: &mut [f32], batch: usize) {
    let [h, w, cin] = conv.input_hwc;
    let [oh, ow, cout] = conv.output_hwc;
    let (in_len, out_len) = (h * w * cin, oh * ow * cout);
    let rows = oh * ow;
    let depth = conv.kernel * conv.kernel * cin;
    let weight = ArrayView2::from_shape((depth, cout), &conv.weight).expect("sized");
    let group =
        if conv.is_pointwise() || conv.is_planar() { batch } else { (col.len() / (rows * depth)).clamp(1, batch) };
    let mut first = 0;
    while first < batch {
        let images = group.min(batch - first);
        let y = &mut out[first * out_len..(first + images) * out_len];
        match conv.residual {
            Some(residual) => {
                let r = &slots[residual][first * out_len..(first + images) * out_len];
                for (y, r) in y.chunks_exact_mut(cout).zip(r.chunks_exact(cout)) {
                    y.iter_mut().zip(r).zip(&conv.bias).for_each(|((y, r), b)| *y = r + b);
                }
            }
            None => y.chunks_exact_mut(cout).for_each(|row| row.copy_from_slice(&conv.bias)),
        }
        let x = &slots[conv.input][first * in_len..(first + images) * in_len];
        if conv.is_planar() {
            planar_convolution(conv, x, col, y);
        } else {
            let patches = if conv.is_pointwise() {
                x
            } else {
                let col = &mut col[..images * rows * depth];
                for (image, col) in x.chunks_exact(in_len).zip(col.chunks_exact_mut(rows * depth)) {
                    im2col(image, [h, w, cin], [oh, ow], conv.kernel, conv.stride, conv.padding, col);
                }
                &col[..]
            };
            let patches = ArrayView2::from_shape((images * rows, depth), patches).expect("sized");
            let mut y_matrix = ArrayViewMut2::from_shape((images * rows, cout), &mut *y).expect("sized");
            general_mat_mul(1.0, &patches, &weight, 1.0, &mut y_matrix);
        }
        if conv.relu {
            y.iter_mut().for_each(|v| *v = v.max(0.0));
        }
        first += images;
    }
}

/// Adds a stride-1 convolution of few input channels of the images `x` onto
/// `y`, an image at a time: its channels are copied into zero-padded planes,
/// and each output plane is a sum of `cin · k²` shifted input planes times
/// one weight each. With output rows as wide as the padded input rows, each
/// shift is one contiguous multiply-add over the whole plane, which
/// vectorises fully (the columns past the output's width are computed and
/// dropped).
#[inline(always)]
fn planar_convolution(conv: &Conv, x: &[f32], scratch: &mut [f32], y: &mut [f32]) {
    let [h, w, cin] = conv.input_hwc;
    let [oh, ow, cout] = conv.output_hwc;
    let (k, padding) = (conv.kernel, conv.padding);
    let [ph, pw] = conv.padded_hw();
    let (plane_in, plane_out) = (ph * pw + k - 1, oh * pw);
    let (planes, sums) = scratch.split_at_mut(cin * plane_in);
    let sums = &mut sums[..cout * plane_out];
    // The borders stay zero: only the inside is written, image after image.
    planes.fill(0.0);
    let (in_len, out_len) = (h * w * cin, oh * ow * cout);
    for (x, y) in x.chunks_exact(in_len).zip(y.chunks_exact_mut(out_len)) {
        for (pixel, values) in x.chunks_exact(cin).enumerate() {
            let at = (pixel / w + padding) * pw + pixel % w + padding;
            for (channel, &value) in values.iter().enumerate() {
                planes[channel * plane_in + at] = value;
            }
        }
        for (co, sum) in sums.chunks_exact_mut(plane_out).enumerate() {
            sum.fill(0.0);
            for (ci, plane) in planes.chunks_exact(plane_in).enumerate() {
                for ky in 0..k {
                    for kx in 0..k {
                        let weight = conv.weight[((ky * k + kx) * cin + ci) * cout + co];
                        let shifted = &plane[ky * pw + kx..][..plane_out];
                        sum.iter_mut().zip(shifted).for_each(|(s, &v)| *s = v.mul_add(weight, *s));
                    }
                }
            }
        }
        for (co, sum) in sums.chunks_exact(plane_out).enumerate() {
            for (oy, row) in sum.chunks_exact(pw).enumerate() {
                for (ox, &v) in row[..ow].iter().enumerate() {
                    y[(oy * ow + ox) * cout + co] += v;
                }
            }
        }
    }
}

/// Row (oy, ox) of `col` holds the input patch under that output pixel,
/// ordered (ky, kx, channel); zeros outside the image. Inside the image, the
/// k × c values of one kernel row are contiguous in the NHWC input: one copy
/// each.
#[inline(always)]
fn im2col(
    x: &[f32],
    [h, w, c]: [usize; 3],
    [oh, ow]: [usize; 2],
    k: usize,
    stride: usize,
    padding: usize,
    col: &mut [f32],
) {
    let depth = k * k * c;
    let span = k * c;
    for oy in 0..oh {
        for ox in 0..ow {
            let row = &mut col[(oy * ow + ox) * depth..][..depth];
            let ix0 = (ox * stride).wrapping_sub(padding);
            let inside = ix0 < w && ix0 + k <= w;
            for ky in 0..k {
                let iy = (oy * stride + ky).wrapping_sub(padding);
                let segment = &mut row[ky * span..][..span];
                if iy >= h {
                    segment.fill(0.0);
                } else if inside {
                    segment.copy_from_slice(&x[(iy * w + ix0) * c..][..span]);
                } else {
                    for kx in 0..k {
                        let ix = ix0.wrapping_add(kx);
                        let dst = &mut segment[kx * c..][..c];
                        if ix < w {
                            dst.copy_from_slice(&x[(iy * w + ix) * c..][..c]);
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
fn max_pool(
    x: &[f32],
    out: &mut [f32],
    batch: usize,
    [h, w, c]: [usize; 3],
    [oh, ow]: [usize; 2],
    [k, stride, padding]: [usize; 3],
) {
    for image in 0..batch {
        let x = &x[image * h * w * c..][..h * w * c];
        let y = &mut out[image * oh * ow * c..][..oh * ow * c];
        for oy in 0..oh {
            for ox in 0..ow {
                let dst = &mut y[(oy * ow + ox) * c..][..c];
                dst.fill(f32::NEG_INFINITY);
                for ky in 0..k {
                    let iy = (oy * stride + ky).wrapping_sub(padding);
                    for kx in 0..k {
                        let ix = (ox * stride + kx).wrapping_sub(padding);
                        if iy < h && ix < w {
                            let src = &x[(iy * w + ix) * c..][..c];
                            dst.iter_mut().zip(src).for_each(|(m, v)| *m = m.max(*v));
                        }
                    }
                }
            }
        }
    }
}
