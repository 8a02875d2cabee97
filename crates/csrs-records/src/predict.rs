//! Records of `csrs predict`: the smoothed classifier's prediction per
//! example.

use csrs_stats::{ClassCounts, Prediction};
use serde::{Deserialize, Serialize};

use crate::row::{Row, check_class};

/// One predicted example.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictRow {
    index: usize,
    label: usize,
    prediction: Prediction,
    count_top: u64,
    count_second: u64,
    seconds: f64,
}

/// A line of predict records, in column order.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PredictRecord {
    index: usize,
    label: usize,
    /// `None` on abstain.
    predicted: Option<usize>,
    abstain: bool,
    count_top: u64,
    count_second: u64,
    seconds: f64,
}

impl PredictRow {
    /// The row of example `index` (of class `label`) predicted from
    /// `counts` as `prediction`, in `seconds`.
    pub fn new(index: usize, label: usize, prediction: Prediction, counts: &ClassCounts, seconds: f64) -> Self {
        let (first, second) = counts.top_two();
        PredictRow {
            index,
            label,
            prediction,
            count_top: counts.count(first),
            count_second: counts.count(second),
            seconds,
        }
    }

    /// The example's class.
    pub fn label(&self) -> usize {
        self.label
    }

    /// The smoothed classifier's prediction.
    pub fn prediction(&self) -> Prediction {
        self.prediction
    }
}

impl Row for PredictRow {
    type Record = PredictRecord;

    fn check_classes(&self, classes: usize) -> anyhow::Result<()> {
        check_class("label", self.label, classes)?;
        match self.prediction {
            Prediction::Class(k) => check_class("predicted", k, classes),
            Prediction::Abstain => Ok(()),
        }
    }

    fn index(&self) -> usize {
        self.index
    }

    fn to_record(&self) -> PredictRecord {
        let predicted = match self.prediction {
            Prediction::Class(k) => Some(k),
            Prediction::Abstain => None,
        };
        PredictRecord {
            index: self.index,
            label: self.label,
            predicted,
            abstain: predicted.is_none(),
            count_top: self.count_top,
            count_second: self.count_second,
            seconds: self.seconds,
        }
    }

    fn from_record(record: PredictRecord) -> anyhow::Result<Self> {
        if record.abstain != record.predicted.is_none() {
            anyhow::bail!("abstain: {}, but predicted is {:?}", record.abstain, record.predicted);
        }
        Ok(PredictRow {
            index: record.index,
            label: record.label,
            prediction: record.predicted.map_or(Prediction::Abstain, Prediction::Class),
            count_top: record.count_top,
            count_second: record.count_second,
            seconds: record.seconds,
        })
    }
}
