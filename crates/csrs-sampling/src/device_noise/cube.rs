//! The kernel's launch on burn's cubecl backends, fused or not.

use burn::prelude::*;
use burn::tensor::ops::FloatTensor;
use burn::tensor::{DType, TensorPrimitive};
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::tensor::CubeTensor;
use burn_cubecl::{BoolElement, CubeBackend, CubeRuntime, IntElement};
use cubecl::{CubeCount, CubeDim};

use super::kernel::{self, BLOCK_WORDS};
use crate::SeededBlock;

/// Threads per cube (WebGPU's guaranteed most).
const THREADS: u32 = 256;
/// Cubes per dimension of a launch (the most WebGPU and Vulkan guarantee).
const MAX_CUBES: u32 = 65_535;

/// Backends on whose devices [`noisy_copies`] runs: burn's cubecl backends
/// (CUDA, wgpu, …) with f32 floats, and their fused versions.
pub trait DeviceNoise: Backend {
    /// [`noisy_copies`] on the backend's primitive tensors.
    fn noisy_copies(bases: FloatTensor<Self>, blocks: &[SeededBlock], sigma: f32) -> FloatTensor<Self>;
}

/// Noisy copies of `bases` (`[inputs, len]`, f32) drawn on their device:
/// for each block b in order, `b.size` rows whose value i is
/// `bases[b.input, i mod len] + σ·z`, z draw i of the stream keyed by
/// `b.seed` — what [`NativeCounter`](crate::NativeCounter) draws on the CPU for the same block.
///
/// # Panics
/// Bases that are not f32; more than 65 535 blocks, a block's input out of
/// range, or more than 2³² − 1 values (a batch of csrs's limits has far
/// fewer: see `MAX_BATCH_BYTES`).
pub fn noisy_copies<B: DeviceNoise>(bases: Tensor<B, 2>, blocks: &[SeededBlock], sigma: f32) -> Tensor<B, 2> {
    let copies = B::noisy_copies(bases.into_primitive().tensor(), blocks, sigma);
    Tensor::from_primitive(TensorPrimitive::Float(copies))
}

impl<R: CubeRuntime, I: IntElement, BT: BoolElement> DeviceNoise for CubeBackend<R, f32, I, BT> {
    fn noisy_copies(bases: FloatTensor<Self>, blocks: &[SeededBlock], sigma: f32) -> FloatTensor<Self> {
        launch(bases, blocks, sigma, false)
    }
}

/// Runs the kernel: the noisy copies, or (`uniforms`) the uniforms u and v
/// they are formed from, for the test against the CPU's streams.
pub(super) fn launch<R: CubeRuntime>(
    bases: CubeTensor<R>,
    blocks: &[SeededBlock],
    sigma: f32,
    uniforms: bool,
) -> CubeTensor<R> {
    assert_eq!(bases.dtype, DType::F32, "noise is added to f32 inputs");
    let bases = into_contiguous(bases);
    let [inputs, len] = bases.meta.shape().dims::<2>();
    assert!(blocks.len() <= MAX_CUBES as usize, "{} blocks in one batch, at most {MAX_CUBES}", blocks.len());
    let mut table = Vec::with_capacity(blocks.len() * BLOCK_WORDS);
    let mut rows = 0;
    for block in blocks {
        assert!(block.input < inputs, "a block of input {}, of {inputs}", block.input);
        let word = |value: usize| u32::try_from(value).expect("a batch of fewer than 2^32 rows");
        table.extend([block.seed as u32, (block.seed >> 32) as u32, word(block.input), word(rows), word(block.size)]);
        rows += block.size;
    }
    let values = rows * len;
    assert!(u32::try_from(values).is_ok(), "{values} noisy values in one batch, at most 2^32 - 1");
    let (client, device) = (bases.client.clone(), bases.device.clone());
    let output = CubeTensor::new_contiguous(
        client.clone(),
        device.clone(),
        [rows, len].into(),
        client.empty(values.max(1) * size_of::<f32>()),
        DType::F32,
    );
    if values == 0 {
        return output;
    }
    let bytes: Vec<u8> = table.iter().flat_map(|word| word.to_le_bytes()).collect();
    let table = CubeTensor::new_contiguous(
        client.clone(),
        device,
        [blocks.len(), BLOCK_WORDS].into(),
        client.create_from_slice(&bytes),
        DType::U32,
    );
    // One thread per Philox output (four draws) of the largest block.
    let counters = blocks.iter().map(|block| (block.size * len).div_ceil(4)).max().unwrap_or(0);
    let cubes = u32::try_from(counters.div_ceil(THREADS as usize)).unwrap_or(MAX_CUBES).clamp(1, MAX_CUBES);
    kernel::noisy_copies::launch::<R>(
        &client,
        CubeCount::Static(cubes, blocks.len() as u32, 1),
        CubeDim::new_1d(THREADS),
        bases.into_tensor_arg(),
        table.into_tensor_arg(),
        output.clone().into_tensor_arg(),
        sigma,
        uniforms,
    );
    output
}

/// The kernel as an operation of burn's fusion backends (burn's CUDA and
/// wgpu backends are fused by default): registered on the bases' stream,
/// run when the stream is, never fused with other operations.
mod fused {
    use std::marker::PhantomData;

    use burn::tensor::ops::FloatTensor;
    use burn_fusion::stream::{Operation, OperationStreams};
    use burn_fusion::{Fusion, FusionBackend, FusionRuntime};
    use burn_ir::{CustomOpIr, HandleContainer, OperationIr, OperationOutput, TensorIr};

    use super::DeviceNoise;
    use crate::SeededBlock;

    /// The kernel's call, waiting for its stream. The blocks and σ are
    /// kept here, not in the operation's description (which holds tensors
    /// only).
    #[derive(Debug, Clone)]
    struct NoisyCopies<B> {
        description: CustomOpIr,
        blocks: Vec<SeededBlock>,
        sigma: f32,
        backend: PhantomData<B>,
    }

    impl<B: FusionBackend + DeviceNoise> Operation<B::FusionRuntime> for NoisyCopies<B> {
        fn execute(&self, handles: &mut HandleContainer<<B::FusionRuntime as FusionRuntime>::FusionHandle>) {
            let ([bases], [copies]) = self.description.as_fixed();
            let bases = handles.get_float_tensor::<B>(bases);
            handles.register_float_tensor::<B>(&copies.id, B::noisy_copies(bases, &self.blocks, self.sigma));
        }
    }

    impl<B: FusionBackend + DeviceNoise> DeviceNoise for Fusion<B> {
        fn noisy_copies(bases: FloatTensor<Self>, blocks: &[SeededBlock], sigma: f32) -> FloatTensor<Self> {
            let rows = blocks.iter().map(|block| block.size).sum::<usize>();
            let client = bases.client.clone();
            let streams = OperationStreams::with_inputs([&bases]);
            let copies = TensorIr::uninit(client.create_empty_handle(), [rows, bases.shape[1]].into(), bases.dtype);
            let description = CustomOpIr::new("csrs_noisy_copies", &[bases.into_ir()], &[copies]);
            let operation = NoisyCopies::<B> {
                description: description.clone(),
                blocks: blocks.to_vec(),
                sigma,
                backend: PhantomData,
            };
            client.register(streams, OperationIr::Custom(description), operation).output()
        }
    }
}

/// The kernel on burn's wgpu backend, which a Vulkan driver on the CPU
/// (Mesa's lavapipe) runs without a GPU: `cargo test -p csrs-sampling
/// --features wgpu --lib device_noise`.
#[cfg(all(test, feature = "wgpu"))]
mod tests {
    use burn::backend::Wgpu;
    use burn::backend::wgpu::{WgpuDevice, WgpuRuntime};
    use burn::tensor::TensorData;

    use super::*;
    use crate::philox::{LANES, add_gaussian, philox_words};

    type Unfused = CubeBackend<WgpuRuntime, f32, i32, u32>;

    const LEN: usize = 3 * 32 * 32;

    /// Three blocks of two inputs, one of them short, seeds with high bits.
    fn blocks() -> Vec<SeededBlock> {
        vec![
            SeededBlock { input: 1, seed: 0xDEAD_BEEF_CAFE_F00D, size: 100 },
            SeededBlock { input: 0, seed: 42, size: 100 },
            SeededBlock { input: 1, seed: 0xFFFF_FFFF_0000_0001, size: 37 },
        ]
    }

    fn inputs() -> Vec<f32> {
        (0..2 * LEN).map(|i| (i % 255) as f32 / 255.0).collect()
    }

    fn on<B: Backend>(values: Vec<f32>, device: &B::Device) -> Tensor<B, 2> {
        let rows = values.len() / LEN;
        Tensor::from_data(TensorData::new(values, [rows, LEN]), device)
    }

    fn values<B: Backend>(tensor: Tensor<B, 2>) -> Vec<f32> {
        tensor.into_data().to_vec::<f32>().unwrap()
    }

    /// u and v of draw `d` of the stream keyed by `seed`, as the CPU forms
    /// them (`philox::normals`): draw d is of counter d / 4, pair (d mod 4) / 2.
    fn cpu_uniforms(seed: u64, d: usize) -> (f32, f32) {
        let counter = (d / 4) as u64;
        let first = counter - counter % LANES as u64;
        let words = philox_words(first, [seed as u32, (seed >> 32) as u32]);
        let (lane, pair) = ((counter - first) as usize, d % 4 / 2);
        let unit = |x: u32| (x >> 8) as f32 * (1.0 / 16_777_216.0);
        (unit(words[2 * pair][lane]) + 1.0 / 16_777_216.0, unit(words[2 * pair + 1][lane]))
    }

    #[test]
    fn the_uniforms_are_the_cpus_bit_for_bit() {
        let device = WgpuDevice::default();
        let uniforms = launch(on::<Unfused>(inputs(), &device).into_primitive().tensor(), &blocks(), 0.25, true);
        let got = values(Tensor::<Unfused, 2>::from_primitive(TensorPrimitive::Float(uniforms)));
        let mut at = 0;
        for block in blocks() {
            for d in 0..block.size * LEN {
                let (u, v) = cpu_uniforms(block.seed, d);
                let expected = if d % 2 == 0 { u } else { v };
                assert_eq!(got[at].to_bits(), expected.to_bits(), "draw {d} of the block seeded {:#x}", block.seed);
                at += 1;
            }
        }
        assert_eq!(at, got.len());
    }

    #[test]
    fn noisy_copies_are_the_cpus_within_float_error_fused_or_not() {
        let device = WgpuDevice::default();
        let sigma = 0.25;
        let inputs = inputs();
        let mut expected = Vec::new();
        for block in blocks() {
            let mut copies = vec![0.0; block.size * LEN];
            add_gaussian(block.seed, 0, sigma, &inputs[block.input * LEN..][..LEN], &mut copies);
            expected.extend(copies);
        }
        // Fused: with operations before and after it in the stream.
        let bases = on::<Wgpu>(inputs.iter().map(|x| x * 2.0).collect(), &device) * 0.5;
        let fused = values(noisy_copies(bases, &blocks(), sigma) + 0.0);
        let unfused = values(noisy_copies(on::<Unfused>(inputs, &device), &blocks(), sigma));
        assert_eq!(fused.len(), expected.len());
        let worst = fused.iter().zip(&expected).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(worst < 1e-4, "largest difference from the CPU's noisy values: {worst}");
        assert!(fused.iter().zip(&unfused).all(|(a, b)| a.to_bits() == b.to_bits()));
    }
}
