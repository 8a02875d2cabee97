//! Choosing the burn backend at run time (`--device cpu|cuda[:N]`): work
//! generic over the backend runs on the one the user names.

use std::fmt;
use std::str::FromStr;

use burn::prelude::Backend;

/// Where models run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub enum DeviceChoice {
    /// burn's flex backend on the CPU, multi-threaded.
    Cpu,
    /// burn's CUDA backend on GPU N (needs the `cuda` feature).
    Cuda(usize),
}

impl FromStr for DeviceChoice {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "cpu" => Ok(DeviceChoice::Cpu),
            "cuda" => Ok(DeviceChoice::Cuda(0)),
            _ => text
                .strip_prefix("cuda:")
                .and_then(|index| index.parse().ok())
                .map(DeviceChoice::Cuda)
                .ok_or_else(|| format!("unknown device {text:?}, expected cpu, cuda or cuda:N")),
        }
    }
}

impl TryFrom<String> for DeviceChoice {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        text.parse()
    }
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceChoice::Cpu => f.write_str("cpu"),
            DeviceChoice::Cuda(index) => write!(f, "cuda:{index}"),
        }
    }
}

/// Work that runs on whichever backend the user chose.
pub trait OnBackend {
    /// What the work returns.
    type Output;

    /// Runs on backend `B` and its `device`.
    fn run<B: Backend>(self, device: B::Device) -> anyhow::Result<Self::Output>;
}

/// Runs `task` on the chosen device.
///
/// # Errors
/// What the task says; a CUDA device without the `cuda` feature, or one
/// that is not usable.
pub fn on_backend<T: OnBackend>(choice: DeviceChoice, task: T) -> anyhow::Result<T::Output> {
    match choice {
        DeviceChoice::Cpu => task.run::<burn::backend::Flex>(Default::default()),
        DeviceChoice::Cuda(index) => cuda(index, task),
    }
}

#[cfg(feature = "cuda")]
fn cuda<T: OnBackend>(index: usize, task: T) -> anyhow::Result<T::Output> {
    use burn::backend::Cuda;
    use burn::backend::cuda::CudaDevice;

    keep_compiled_kernels();
    let device = CudaDevice::new(index);
    // The CUDA runtime panics when there is no driver or no such GPU.
    if !csrs_models::device::is_usable::<Cuda>(&device) {
        anyhow::bail!("no usable CUDA device cuda:{index} (is there an NVIDIA GPU and driver?)");
    }
    task.run::<Cuda>(device)
}

/// Keeps the CUDA kernels burn compiles in the user's cache folder, so that
/// only the first run on a machine pays for compiling them (over a minute for
/// a ResNet-110 at a new batch size); autotuning results are kept by the
/// runtime itself. A `cubecl.toml` (or `burn.toml` with a `[cubecl]` section)
/// in the working directory or above it that names its own cache wins.
#[cfg(feature = "cuda")]
fn keep_compiled_kernels() {
    use burn::cubecl::config::cache::CacheConfig;
    use burn::cubecl::config::{CubeClRuntimeConfig, RuntimeConfig};

    // The runtime's configuration can be set once, before its first use.
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let mut config = CubeClRuntimeConfig::from_current_dir().override_from_env();
        let cache = std::env::var_os("XDG_CACHE_HOME")
            .map(std::path::PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| std::path::Path::new(&home).join(".cache")));
        if let (None, Some(cache)) = (&config.compilation.cache, cache) {
            config.compilation.cache = Some(CacheConfig::File(cache.join("csrs").join("cuda-kernels")));
        }
        CubeClRuntimeConfig::set(config);
    });
}

#[cfg(not(feature = "cuda"))]
fn cuda<T: OnBackend>(index: usize, _task: T) -> anyhow::Result<T::Output> {
    use csrs_artifacts::{Setting, Spelling, Worded};
    let text = move |s: &dyn Spelling| {
        format!(
            "{}: this csrs was built without CUDA support; rebuild it with the cargo feature `cuda`",
            s.given(Setting::Device, &format!("cuda:{index}"))
        )
    };
    Err(Worded::new(text).into())
}
