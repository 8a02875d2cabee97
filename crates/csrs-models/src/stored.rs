//! One tensor of a network read from a file, as training treats it.
//!
//! A file's tensors are all alike to the reader (initializers), but not to
//! training: weights are learned, the constants of arithmetic in the graph
//! (a normalisation's mean and std) stay as they are, and batch norm's
//! running statistics follow the batches a training forward pass sees.
//! [`Stored`] holds each as what it is, with one record for all: a plain
//! parameter tensor, so checkpoints are the same whatever the role.

use burn::module::{
    AutodiffModule, Content, Devices, HasAutodiffModule, Module, ModuleDisplay, ModuleDisplayDefault, ModuleMapper,
    ModuleVisitor, Param, RunningState,
};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

/// A flat tensor of a graph network.
#[derive(Debug, Clone)]
pub(crate) enum Stored<B: Backend> {
    /// A parameter: learned, or (without `require_grad`) a constant.
    Param(Param<Tensor<B, 1>>),
    /// A running statistic, updated by training forward passes.
    Running(RunningState<Tensor<B, 1>>),
}

impl<B: Backend> Stored<B> {
    /// A learned weight holding `value`.
    pub(crate) fn learned(value: Tensor<B, 1>) -> Self {
        Stored::Param(Param::from_tensor(value))
    }

    /// A constant holding `value`: no gradient, never moved by the optimiser.
    pub(crate) fn constant(value: Tensor<B, 1>) -> Self {
        Stored::Param(Param::from_tensor(value).set_require_grad(false))
    }

    /// A running statistic holding `value`.
    pub(crate) fn running(value: Tensor<B, 1>) -> Self {
        Stored::Running(RunningState::new(value))
    }

    /// The current value (a running statistic's, with this thread's last
    /// update taken in).
    pub(crate) fn value(&self) -> Tensor<B, 1> {
        match self {
            Stored::Param(param) => param.val(),
            Stored::Running(state) => state.value_sync(),
        }
    }

    /// Sets a running statistic (detached); a parameter is left as it is.
    pub(crate) fn update(&self, value: Tensor<B, 1>) {
        if let Stored::Running(state) = self {
            state.update(value.detach());
        }
    }
}

impl<B: Backend> Module<B> for Stored<B> {
    type Record = Param<Tensor<B, 1>>;

    fn collect_devices(&self, devices: Devices<B>) -> Devices<B> {
        match self {
            Stored::Param(param) => Module::<B>::collect_devices(param, devices),
            Stored::Running(state) => Module::<B>::collect_devices(state, devices),
        }
    }

    fn fork(self, device: &B::Device) -> Self {
        match self {
            Stored::Param(param) => Stored::Param(Module::<B>::fork(param, device)),
            Stored::Running(state) => Stored::Running(Module::<B>::fork(state, device)),
        }
    }

    fn to_device(self, device: &B::Device) -> Self {
        match self {
            Stored::Param(param) => Stored::Param(Module::<B>::to_device(param, device)),
            Stored::Running(state) => Stored::Running(Module::<B>::to_device(state, device)),
        }
    }

    fn visit<V: ModuleVisitor<B>>(&self, visitor: &mut V) {
        match self {
            Stored::Param(param) => Module::<B>::visit(param, visitor),
            Stored::Running(state) => Module::<B>::visit(state, visitor),
        }
    }

    fn map<M: ModuleMapper<B>>(self, mapper: &mut M) -> Self {
        match self {
            Stored::Param(param) => Stored::Param(Module::<B>::map(param, mapper)),
            Stored::Running(state) => Stored::Running(Module::<B>::map(state, mapper)),
        }
    }

    fn load_record(self, record: Self::Record) -> Self {
        match self {
            Stored::Param(param) => Stored::Param(Module::<B>::load_record(param, record)),
            Stored::Running(state) => Stored::Running(Module::<B>::load_record(state, record)),
        }
    }

    fn into_record(self) -> Self::Record {
        match self {
            Stored::Param(param) => Module::<B>::into_record(param),
            Stored::Running(state) => Module::<B>::into_record(state),
        }
    }
}

impl<B: AutodiffBackend> AutodiffModule<B> for Stored<B> {
    type InnerModule = Stored<B::InnerBackend>;

    fn valid(&self) -> Self::InnerModule {
        match self {
            Stored::Param(param) => Stored::Param(param.valid()),
            Stored::Running(state) => Stored::Running(state.valid()),
        }
    }

    fn from_inner(module: Self::InnerModule) -> Self {
        match module {
            Stored::Param(param) => Stored::Param(Param::from_inner(param)),
            Stored::Running(state) => Stored::Running(RunningState::from_inner(state)),
        }
    }
}

impl<B: AutodiffBackend> HasAutodiffModule<B> for Stored<B::InnerBackend> {
    type TrainModule = Stored<B>;
}

impl<B: Backend> ModuleDisplayDefault for Stored<B> {
    fn content(&self, content: Content) -> Option<Content> {
        match self {
            Stored::Param(param) => param.content(content),
            Stored::Running(state) => state.content(content),
        }
    }
}

impl<B: Backend> ModuleDisplay for Stored<B> {}
