//! The training loop: noisy batches, the chosen loss, an optimiser step;
//! an evaluation and a checkpoint after every epoch; resume from the last
//! checkpoint with the optimiser's state.
//!
//! With `replicas = K`, K threads each train a copy of the model on a part
//! of every batch, on devices of their own, and sum their gradients through
//! burn's collective all-reduce before every step, so the copies stay equal;
//! the first (the leader) evaluates and writes the checkpoints.

use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::time::Instant;

use burn::collective::{self, CollectiveConfig, CollectiveError, PeerId, ReduceOperation};
use burn::module::{AutodiffModule, ModuleVisitor, Param};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::{AdamConfig, GradientsParams, Optimizer, SgdConfig, momentum::MomentumConfig};
use burn::prelude::*;
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Recorder};
use burn::tensor::TensorPrimitive;
use burn::tensor::backend::AutodiffBackend;
use csrs_artifacts::TrainingFiles;
use csrs_cost::CostMatrix;
use csrs_data::{Dataset, shuffle};
use csrs_models::checkpoint::{fingerprint, write_atomically};
use csrs_models::{
    Checkpoint, CheckpointMeta, Classifier, DenoiserCheckpoint, DenoiserMeta, DenoiserSpec, ModelSpec, TrainingInfo,
};
use rand_xoshiro::SplitMix64;
use rand_xoshiro::rand_core::SeedableRng;

use crate::augment::{self, crop_and_flip};
use crate::batch_loss::{Draws, Method, int_tensor, trainee_loss};
use crate::config::{CheckedConfig, OptimizerConfig};
use crate::noise::NoisyCopies;
use crate::trainee::{Denoised, Trainee};
use crate::{Result, TrainError};

/// What one epoch did, for the training log.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochLog {
    /// Epochs completed, from 1.
    pub epoch: usize,
    /// The learning rate used.
    pub lr: f64,
    /// Mean classification loss per batch.
    pub classification: f64,
    /// Mean robustness loss on sensitive examples per batch.
    pub robustness_sensitive: f64,
    /// Mean robustness loss on the other examples per batch.
    pub robustness_normal: f64,
    /// Training accuracy of the (soft) smoothed prediction on noisy copies.
    pub train_accuracy: f64,
    /// Accuracy on one noisy copy of each test example.
    pub noisy_test_accuracy: f64,
    /// The same over sensitive test examples (`None` without a cost matrix or
    /// sensitive examples).
    pub noisy_test_accuracy_sensitive: Option<f64>,
    /// Wall time of the epoch.
    pub seconds: f64,
}

impl EpochLog {
    /// CSV column names of [`EpochLog::csv_row`].
    pub const CSV_HEADER: &'static str = "epoch,lr,loss_classification,loss_robust_sensitive,loss_robust_normal,train_accuracy,noisy_test_accuracy,noisy_test_accuracy_sensitive,seconds";

    /// One CSV line (no newline).
    pub fn csv_row(&self) -> String {
        let sensitive = self.noisy_test_accuracy_sensitive.map_or(String::new(), |a| format!("{a:.4}"));
        format!(
            "{},{},{:.6},{:.6},{:.6},{:.4},{:.4},{sensitive},{:.1}",
            self.epoch,
            self.lr,
            self.classification,
            self.robustness_sensitive,
            self.robustness_normal,
            self.train_accuracy,
            self.noisy_test_accuracy,
            self.seconds
        )
    }
}

/// Everything a run needs besides the device.
pub struct TrainRun<'a> {
    /// Hyperparameters.
    pub config: &'a CheckedConfig,
    /// The cost matrix (required by the cost-sensitive methods).
    pub costs: Option<&'a CostMatrix>,
    /// The model to build.
    pub spec: ModelSpec,
    /// The dataset's name and class names, for the checkpoint.
    pub dataset: String,
    /// Class names, by index.
    pub class_names: Vec<String>,
    /// Training examples.
    pub train: &'a Dataset,
    /// Test examples, for the noisy accuracy after each epoch.
    pub test: &'a Dataset,
    /// Checkpoint path (without extension).
    pub out: &'a Path,
    /// Continue from the checkpoint at `out`.
    pub resume: bool,
    /// Hash of the resolved configuration, stored in the checkpoint.
    pub config_hash: String,
    /// The denoiser a denoiser run trains (its checkpoint's spec; `spec`
    /// is then the frozen classifier's); `None` for a classifier's run.
    pub denoiser: Option<DenoiserSpec>,
}

/// What a caller sees of a run while it goes: where a resumed run starts,
/// batches as they finish, and each epoch just before its checkpoint.
///
/// A run killed between an epoch's report and its checkpoint reports that
/// epoch again when resumed; `resuming` says from where, so a log can drop
/// what the checkpoint does not hold.
pub trait Observer {
    /// The run continues from a checkpoint after `epochs_done` epochs.
    ///
    /// # Errors
    /// Stops the run.
    fn resuming(&mut self, epochs_done: usize) -> Result<()> {
        let _ = epochs_done;
        Ok(())
    }

    /// Batch `done` of `total` of epoch `epoch` (from 1) finished; it drew
    /// `samples` noisy copies.
    fn batch_done(&mut self, epoch: usize, done: usize, total: usize, samples: usize) {
        let _ = (epoch, done, total, samples);
    }

    /// Epoch `log.epoch` finished; its checkpoint is written next.
    ///
    /// # Errors
    /// Stops the run (e.g. the training log cannot be written).
    fn epoch_done(&mut self, log: &EpochLog) -> Result<()>;
}

/// Trains, telling `observer` about each batch and each epoch.
///
/// A classifier's run starts from `start`, a model of `run.spec` (a
/// network read from a file, another run's checkpoint), or else from
/// burn's initialisation. A denoiser's run (`run.denoiser`) starts from
/// `start`, its denoiser and the frozen classifier it trains in front of.
/// A resumed run goes on from its last checkpoint (a denoiser's with the
/// classifier of `start`).
///
/// # Errors
/// [`TrainError`]: an inconsistent configuration, an objective of the other
/// kind of run, `freeze_batch_norm` for a built-in architecture or a
/// denoiser, a checkpoint that cannot be read or written, or a loss that
/// became NaN (the last checkpoint is kept).
///
/// # Panics
/// A denoiser's run without its `start`.
pub fn train<B: AutodiffBackend>(
    run: TrainRun<'_>,
    start: Option<Trainee<B>>,
    device: &B::Device,
    observer: &mut impl Observer,
) -> Result<()> {
    let objective = &run.config.objective;
    let denoising = run.denoiser.is_some();
    if objective.trains_denoiser() != denoising {
        let message = if denoising {
            "trains a classifier; a denoiser trains with denoiser-mse, denoiser-stab or denoiser-macer"
        } else {
            "trains a denoiser in front of a frozen classifier; give the run a classifier and a denoiser"
        };
        return Err(TrainError::Objective { method: objective.method_name(), message });
    }
    assert_eq!(denoising, matches!(start, Some(Trainee::Denoiser(_))), "a denoiser's run starts from its denoiser");
    if denoising && run.config.freeze_batch_norm {
        let message = "applies to an imported classifier being trained; a denoiser's classifier is frozen whole";
        return Err(TrainError::Objective { method: "freeze_batch_norm".into(), message });
    }
    Method::new(objective, run.config.sigma, run.costs, 0)?;
    let decay = |weight_decay: f64| (weight_decay > 0.0).then(|| WeightDecayConfig::new(weight_decay as f32));
    match run.config.optimizer {
        OptimizerConfig::Sgd { momentum, weight_decay, .. } => {
            let momentum = (momentum > 0.0).then_some(MomentumConfig { momentum, dampening: 0.0, nesterov: false });
            let optim =
                SgdConfig::new().with_momentum(momentum).with_weight_decay(decay(weight_decay)).init::<B, Trainee<B>>();
            train_with(run, start, device, optim, observer)
        }
        OptimizerConfig::Adam { weight_decay, .. } => {
            let optim = AdamConfig::new().with_weight_decay(decay(weight_decay)).init::<B, Trainee<B>>();
            train_with(run, start, device, optim, observer)
        }
    }
}

fn train_with<B: AutodiffBackend, O: Optimizer<Trainee<B>, B> + Clone + Send>(
    run: TrainRun<'_>,
    start: Option<Trainee<B>>,
    device: &B::Device,
    mut optim: O,
    observer: &mut impl Observer,
) -> Result<()> {
    let config = run.config;
    let recorder = NamedMpkBytesRecorder::<FullPrecisionSettings>::new();
    let files = TrainingFiles::new(run.out);
    let (model, first_epoch) = if run.resume && files.metadata().exists() {
        // The checkpoint's network is the one the run goes on with, and the
        // configuration's the one its next checkpoint names: they must agree.
        let other = |what: &str| TrainError::Resume {
            path: files.metadata(),
            message: format!("the checkpoint holds another {what} than the configuration describes"),
        };
        let (model, training) = match start {
            Some(Trainee::Denoiser(start)) => {
                let checkpoint = DenoiserCheckpoint::<B>::load(run.out, device)?;
                if run.denoiser.as_ref() != Some(&checkpoint.meta.denoiser) {
                    return Err(other("denoiser"));
                }
                let model = Trainee::Denoiser(Denoised { denoiser: checkpoint.model, classifier: start.classifier });
                (model, checkpoint.meta.training)
            }
            _ => {
                let checkpoint = Checkpoint::<B>::load(run.out, Some(run.spec.n_classes), device)?;
                if checkpoint.meta.spec != run.spec {
                    return Err(other("network"));
                }
                (Trainee::Classifier(checkpoint.model), checkpoint.meta.training)
            }
        };
        let training = training.as_ref();
        let done = training.map_or(0, |t| t.epoch);
        let state_path = files.optimizer(done);
        let bytes = std::fs::read(&state_path).map_err(|error| TrainError::Io { path: state_path.clone(), error })?;
        if let Some(expected) = training.and_then(|t| t.optimizer_fingerprint.as_ref())
            && fingerprint(&bytes) != *expected
        {
            let message = format!("does not match {} (from another run, or damaged)", files.metadata().display());
            return Err(TrainError::OptimizerState { path: state_path, message });
        }
        let record = recorder
            .load(bytes, device)
            .map_err(|err| TrainError::OptimizerState { path: state_path.clone(), message: first_line(&err) })?;
        optim = optim.load_record(record);
        observer.resuming(done)?;
        (model, done)
    } else {
        B::seed(device, config.seed);
        let model = match start {
            Some(model) => model,
            None => Trainee::Classifier(Classifier::<B>::init(&run.spec, device)?),
        };
        (model, 0)
    };
    let model = match model {
        Trainee::Classifier(model) if config.freeze_batch_norm => Trainee::Classifier(model.freeze_batch_norm()?),
        model => model,
    };
    let devices = replica_devices::<B>(device, config.replicas)?;
    let count = devices.len();
    if count == 1 {
        return epochs(Replica::ALONE, model, optim, &run, first_epoch, device, observer);
    }
    // Parameters are made on first use: made here, once, every replica
    // starts from the same weights.
    model.visit(&mut Materialize);
    // burn's collective server is one per process: one replicated run at a
    // time.
    let _alone = REPLICATED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    std::thread::scope(|scope| {
        let followers: Vec<_> = (1..count)
            .map(|rank| {
                let (model, optim, run, device) =
                    (model.clone().fork(&devices[rank]), optim.clone(), &run, &devices[rank]);
                scope.spawn(move || {
                    or_abort(|| epochs(Replica { rank, count }, model, optim, run, first_epoch, device, &mut Quiet))
                })
            })
            .collect();
        let led =
            or_abort(|| epochs(Replica { rank: 0, count }, model, optim, &run, first_epoch, &devices[0], observer));
        let followed = followers.into_iter().map(|follower| follower.join().expect("a replica aborts, not panics"));
        // The leader's error says why; a follower's, when only it failed.
        followed.fold(led, |result, followed| match (result, followed) {
            (Err(TrainError::Replicas { .. }) | Ok(()), Err(err)) => Err(err),
            (result, _) => result,
        })
    })
}

/// Whether a replicated run holds burn's collective server.
static REPLICATED: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs a replica, ending the process if it panics (an out-of-memory GPU,
/// a bug): the other replicas would wait for it in their next all-reduce
/// forever. The last checkpoint is kept; `--resume` continues from it.
fn or_abort<T>(replica: impl FnOnce() -> T) -> T {
    std::panic::catch_unwind(AssertUnwindSafe(replica)).unwrap_or_else(|_| {
        eprintln!("a data-parallel replica panicked (above); stopping every replica");
        std::process::abort()
    })
}

/// The epochs from `first_epoch` of one replica; the leader evaluates and
/// writes the checkpoint after each.
fn epochs<B: AutodiffBackend, O: Optimizer<Trainee<B>, B>>(
    replica: Replica,
    mut model: Trainee<B>,
    mut optim: O,
    run: &TrainRun<'_>,
    first_epoch: usize,
    device: &B::Device,
    observer: &mut impl Observer,
) -> Result<()> {
    let config = run.config;
    replica.join::<B>(device)?;
    let result = (|| {
        for epoch in first_epoch..config.epochs {
            let start = Instant::now();
            let lr = config.schedule.rate(config.optimizer.lr(), epoch, config.epochs);
            let (trained, log) = train_epoch(model, &mut optim, run, epoch, lr, replica, device, observer)?;
            model = trained;
            let saved =
                if replica.leads() { save_epoch(&model, &optim, run, log, start, device, observer) } else { Ok(()) };
            // Every replica learns whether the leader saved the epoch, so that
            // none goes on waiting for a leader that stopped.
            let failed = replica.sum::<B>(&[f64::from(u8::from(saved.is_err()))], device)?;
            saved?;
            if failed[0] > 0.0 {
                return Err(TrainError::Replicas { message: "the leading replica stopped".into() });
            }
        }
        Ok(())
    })();
    replica.leave::<B>()?;
    result
}

/// The end of an epoch: the noisy test accuracy, the observer's report, the
/// optimiser's state and the checkpoint.
fn save_epoch<B: AutodiffBackend, O: Optimizer<Trainee<B>, B>>(
    model: &Trainee<B>,
    optim: &O,
    run: &TrainRun<'_>,
    mut log: EpochLog,
    start: Instant,
    device: &B::Device,
    observer: &mut impl Observer,
) -> Result<()> {
    let config = run.config;
    let epoch = log.epoch - 1;
    let (accuracy, sensitive) = noisy_accuracy(&model.valid(), run, epoch, device)?;
    log.noisy_test_accuracy = accuracy;
    log.noisy_test_accuracy_sensitive = sensitive;
    log.seconds = start.elapsed().as_secs_f64();
    observer.epoch_done(&log)?;

    // Optimiser state first, then the checkpoint that names its epoch.
    let files = TrainingFiles::new(run.out);
    let state_path = files.optimizer(epoch + 1);
    let state = NamedMpkBytesRecorder::<FullPrecisionSettings>::new()
        .record(optim.to_record(), ())
        .map_err(|err| TrainError::OptimizerState { path: state_path.clone(), message: first_line(&err) })?;
    write_atomically(&state_path, &state)?;
    let training = Some(TrainingInfo {
        sigma: config.sigma,
        method: config.objective.method_name(),
        epoch: epoch + 1,
        config_hash: run.config_hash.clone(),
        optimizer_fingerprint: Some(fingerprint(&state)),
        noise: Some(config.noise.as_str().to_owned()),
    });
    match (model.valid(), &run.denoiser) {
        (Trainee::Denoiser(model), Some(spec)) => {
            let meta = DenoiserMeta { training, ..DenoiserMeta::new(spec.clone(), run.dataset.clone()) };
            DenoiserCheckpoint { meta, model: model.denoiser }.save(run.out)?;
        }
        (Trainee::Classifier(model), None) => {
            let meta = CheckpointMeta {
                training,
                ..CheckpointMeta::new(run.spec.clone(), run.dataset.clone(), run.class_names.clone())
            };
            Checkpoint { meta, model }.save(run.out)?;
        }
        _ => unreachable!("train: a denoiser's run trains a denoiser"),
    }
    // Every older state goes, not only the last epoch's: a run stopped
    // between the write above and this removal left two.
    for (older, path) in files.optimizer_states() {
        if older != epoch + 1 {
            let _ = std::fs::remove_file(path);
        }
    }
    Ok(())
}

/// One of the data-parallel copies of the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Replica {
    /// From 0, the leader.
    rank: usize,
    count: usize,
}

impl Replica {
    /// Training on one device: nothing to share.
    const ALONE: Replica = Replica { rank: 0, count: 1 };

    fn leads(self) -> bool {
        self.rank == 0
    }

    fn peer(self) -> PeerId {
        PeerId::from(self.rank)
    }

    /// This replica's part of a batch: the batch cut into `count`
    /// consecutive parts as equal as can be.
    fn part(self, batch: &[usize]) -> &[usize] {
        &batch[self.rank * batch.len() / self.count..(self.rank + 1) * batch.len() / self.count]
    }

    /// Joins the others (waiting until all have).
    fn join<B: AutodiffBackend>(self, device: &B::Device) -> Result<()> {
        if self.count == 1 {
            return Ok(());
        }
        let config = CollectiveConfig::default().with_num_devices(self.count);
        collective::register::<B::InnerBackend>(self.peer(), device.clone(), config).map_err(replicas)
    }

    fn leave<B: AutodiffBackend>(self) -> Result<()> {
        if self.count == 1 {
            return Ok(());
        }
        collective::finish_collective::<B::InnerBackend>(self.peer()).map_err(replicas)
    }

    /// `values` summed over the replicas (in single precision); alone, the
    /// values themselves.
    fn sum<B: AutodiffBackend>(self, values: &[f64], device: &B::Device) -> Result<Vec<f64>> {
        if self.count == 1 {
            return Ok(values.to_vec());
        }
        let values: Vec<f32> = values.iter().map(|&v| v as f32).collect();
        let tensor = Tensor::<B::InnerBackend, 1>::from_floats(values.as_slice(), device);
        let summed = collective::all_reduce::<B::InnerBackend>(
            self.peer(),
            tensor.into_primitive().tensor(),
            ReduceOperation::Sum,
        )
        .map_err(replicas)?;
        let summed = Tensor::<B::InnerBackend, 1>::from_primitive(TensorPrimitive::Float(summed));
        Ok(summed.into_data().iter::<f32>().map(f64::from).collect())
    }

    /// The gradients summed over the replicas.
    fn sum_gradients<B: AutodiffBackend>(self, grads: GradientsParams) -> Result<GradientsParams> {
        if self.count == 1 {
            return Ok(grads);
        }
        grads.all_reduce::<B::InnerBackend>(self.peer(), ReduceOperation::Sum).map_err(replicas)
    }
}

fn replicas(err: CollectiveError) -> TrainError {
    TrainError::Replicas { message: format!("{err:?}") }
}

/// The devices of `count` replicas: `device` and the ones after it
/// (`cuda:1`, `cuda:2` after `cuda:0`; the CPU is one device for all).
fn replica_devices<B: Backend>(device: &B::Device, count: usize) -> Result<Vec<B::Device>> {
    let first = device.to_id();
    let next = |rank: usize| {
        let index = u16::try_from(usize::from(first.index_id) + rank)
            .map_err(|_| TrainError::Replicas { message: format!("no device {rank} after {device:?}") })?;
        let next = B::Device::from_id(burn::tensor::backend::DeviceId { index_id: index, ..first });
        if !csrs_models::device::is_usable::<B>(&next) {
            let message = format!("replica {rank} has no usable device ({next:?}, {rank} after {device:?})");
            return Err(TrainError::Replicas { message });
        }
        Ok(next)
    };
    std::iter::once(Ok(device.clone())).chain((1..count).map(next)).collect()
}

/// Makes every parameter of a module.
struct Materialize;

impl<B: Backend> ModuleVisitor<B> for Materialize {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let _ = param.val();
    }
}

/// The followers' observer: the leader reports.
struct Quiet;

impl Observer for Quiet {
    fn epoch_done(&mut self, _: &EpochLog) -> Result<()> {
        Ok(())
    }
}

/// The first line of an error's message (burn's recorder errors run on).
fn first_line(err: &impl std::fmt::Display) -> String {
    err.to_string().lines().next().unwrap_or_default().to_owned()
}

/// The example order of an epoch: a seeded shuffle.
fn epoch_order(len: usize, seed: u64, epoch: usize) -> Vec<usize> {
    let mut rng = SplitMix64::seed_from_u64(seed ^ (epoch as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut order: Vec<usize> = (0..len).collect();
    shuffle(&mut rng, &mut order);
    order
}

/// A batch of images `[b, c, h, w]` and labels `[b]`, each image cropped
/// and flipped when `augment` holds a generator.
fn batch<B: Backend>(
    data: &Dataset,
    indices: &[usize],
    mut augment: Option<&mut SplitMix64>,
    device: &B::Device,
) -> Result<(Tensor<B, 4>, Vec<usize>)> {
    let shape = data.shape();
    let mut pixels = Vec::with_capacity(indices.len() * shape.len());
    for &i in indices {
        let image = data.image(i)?;
        match augment.as_deref_mut() {
            Some(rng) => pixels.extend(crop_and_flip(&image, shape, rng)),
            None => pixels.extend_from_slice(&image),
        }
    }
    let images = Tensor::<B, 1>::from_floats(pixels.as_slice(), device).reshape([
        indices.len(),
        shape.channels,
        shape.height,
        shape.width,
    ]);
    Ok((images, indices.iter().map(|&i| data.label(i)).collect()))
}

fn scalar<B: Backend>(t: Tensor<B, 1>) -> f64 {
    t.into_scalar().elem::<f64>()
}

/// What a batch did, as numbers a replica sums with the others': the mean
/// loss and its parts (each replica's weighed by its share of the batch),
/// the correct predictions, and how many replicas could not read their
/// part. Summed over an epoch's batches too.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct BatchTally {
    total: f64,
    classification: f64,
    robustness_sensitive: f64,
    robustness_normal: f64,
    correct: f64,
    failed: f64,
}

impl BatchTally {
    fn to_array(self) -> [f64; 6] {
        [self.total, self.classification, self.robustness_sensitive, self.robustness_normal, self.correct, self.failed]
    }

    fn from_array([total, classification, robustness_sensitive, robustness_normal, correct, failed]: [f64; 6]) -> Self {
        BatchTally { total, classification, robustness_sensitive, robustness_normal, correct, failed }
    }

    /// The tally summed over the replicas.
    fn summed<B: AutodiffBackend>(self, replica: Replica, device: &B::Device) -> Result<Self> {
        let summed = replica.sum::<B>(&self.to_array(), device)?;
        let summed = summed.try_into().expect("a sum has one value for each value summed");
        Ok(Self::from_array(summed))
    }

    fn add(&mut self, other: &Self) {
        let (a, b) = (self.to_array(), other.to_array());
        *self = Self::from_array(std::array::from_fn(|i| a[i] + b[i]));
    }
}

/// One epoch of one replica: its part of every batch.
#[allow(clippy::too_many_arguments)]
fn train_epoch<B: AutodiffBackend, O: Optimizer<Trainee<B>, B>>(
    mut model: Trainee<B>,
    optim: &mut O,
    run: &TrainRun<'_>,
    epoch: usize,
    lr: f64,
    replica: Replica,
    device: &B::Device,
    observer: &mut impl Observer,
) -> Result<(Trainee<B>, EpochLog)> {
    let config = run.config;
    if replica.leads() {
        // Replicas on the CPU share one generator: the leader seeds it.
        B::seed(device, config.seed.wrapping_add(1 + epoch as u64));
    }
    let method = Method::new(&config.objective, config.sigma, run.costs, epoch)?;
    let order = epoch_order(run.train.len(), config.seed, epoch);
    let augment = config.augment.unwrap_or_else(|| augment::is_default_for(run.train.shape()));
    let augment_seed = config.seed ^ 0xa06e_0000 ^ epoch as u64 ^ ((replica.rank as u64) << 32);
    let mut augment_rng = augment.then(|| SplitMix64::seed_from_u64(augment_seed));
    let (mut sums, mut batches) = (BatchTally::default(), 0usize);
    let total_batches = order.len().div_ceil(config.batch_size);
    for (index, chunk) in order.chunks(config.batch_size).enumerate() {
        if chunk.len() < replica.count {
            // A last batch too small to give every replica a part.
            continue;
        }
        let part = replica.part(chunk);
        // The batch's mean loss is the sum over replicas of their parts'
        // means, each weighed by its share of the batch.
        let share = part.len() as f64 / chunk.len() as f64;
        let forward = batch::<B>(run.train, part, augment_rng.as_mut(), device).map(|(images, labels)| {
            let draws = Draws::draw(&method, &images, config.noise);
            let (parts, per_copy) = trainee_loss(&model, &method, images, &labels, &draws);
            let label_tensor = int_tensor::<B>(&labels, device);
            let [b, copies, m] = per_copy.dims();
            let predictions = per_copy.detach().mean_dim(1).reshape([b, m]).argmax(1).reshape([b]);
            let hits = scalar(predictions.equal(label_tensor).int().sum().float());
            (parts, hits, copies)
        });
        // What the batch did, over every replica, and whether one failed:
        // each replica takes part even after an error, so none waits.
        let tally = match &forward {
            Ok((parts, hits, _)) => {
                let of = |part: &Tensor<B, 1>| share * scalar(part.clone().detach());
                BatchTally {
                    total: of(&parts.total),
                    classification: of(&parts.classification),
                    robustness_sensitive: of(&parts.robustness_sensitive),
                    robustness_normal: of(&parts.robustness_normal),
                    correct: *hits,
                    failed: 0.0,
                }
            }
            Err(_) => BatchTally { failed: 1.0, ..BatchTally::default() },
        };
        let summed = tally.summed::<B>(replica, device)?;
        let (parts, _, copies) = forward?;
        if summed.failed > 0.0 {
            return Err(TrainError::Replicas { message: "another replica could not read its batch".into() });
        }
        if !summed.total.is_finite() {
            return Err(TrainError::NotFinite { epoch: epoch + 1, batch: index + 1 });
        }
        sums.add(&summed);
        batches += 1;
        let loss = if replica.count == 1 { parts.total } else { parts.total.mul_scalar(share) };
        let grads = replica.sum_gradients::<B>(GradientsParams::from_grads(loss.backward(), &model))?;
        model = optim.step(lr, model, grads);
        if replica.leads() {
            observer.batch_done(epoch + 1, batches, total_batches, chunk.len() * copies);
        }
    }
    let per_batch = |sum: f64| sum / batches.max(1) as f64;
    let log = EpochLog {
        epoch: epoch + 1,
        lr,
        classification: per_batch(sums.classification),
        robustness_sensitive: per_batch(sums.robustness_sensitive),
        robustness_normal: per_batch(sums.robustness_normal),
        train_accuracy: sums.correct / run.train.len().max(1) as f64,
        noisy_test_accuracy: 0.0,
        noisy_test_accuracy_sensitive: None,
        seconds: 0.0,
    };
    Ok((model, log))
}

/// Accuracy of the base classifier on one noisy copy of every test example,
/// overall and on sensitive examples.
fn noisy_accuracy<B: Backend>(
    model: &Trainee<B>,
    run: &TrainRun<'_>,
    epoch: usize,
    device: &B::Device,
) -> Result<(f64, Option<f64>)> {
    B::seed(device, run.config.seed.wrapping_add(0x5eed_0000 + epoch as u64));
    let indices: Vec<usize> = (0..run.test.len()).collect();
    let (mut correct, mut sensitive_correct, mut sensitive_total) = (0usize, 0usize, 0usize);
    for chunk in indices.chunks(500) {
        let (images, labels) = batch::<B>(run.test, chunk, None, device)?;
        let predictions: Vec<i64> = model
            .forward(NoisyCopies::draw(&images, 1, run.config.sigma, run.config.noise).of(images.clone()))
            .argmax(1)
            .into_data()
            .iter::<i64>()
            .collect();
        for (&y, &p) in labels.iter().zip(&predictions) {
            let hit = p as usize == y;
            correct += usize::from(hit);
            if run.costs.is_some_and(|c| c.row(y).is_seed()) {
                sensitive_total += 1;
                sensitive_correct += usize::from(hit);
            }
        }
    }
    let accuracy = correct as f64 / run.test.len().max(1) as f64;
    Ok((accuracy, (sensitive_total > 0).then(|| sensitive_correct as f64 / sensitive_total as f64)))
}
