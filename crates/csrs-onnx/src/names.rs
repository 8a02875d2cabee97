//! The file's own node names.
//!
//! The parser renames every node `{operator}{k}` (`conv2d3`: its third 2-d
//! convolution), numbering the file's nodes of each operator in order. A
//! user knows the names the exporter wrote (`/layer1/layer1.0/conv1/Conv`,
//! what Netron shows), so messages and layer names use those: they are
//! taken from csrs's own decoding of the file, and the parser's numbering
//! is redone where it is certain to be the parser's.

use std::collections::{HashMap, HashSet};

use onnx_ir::ModelProto;

/// The file's names of the parser's nodes.
#[derive(Debug)]
pub(crate) struct FileNames {
    names: HashMap<String, String>,
}

impl FileNames {
    /// The names in `model`.
    pub(crate) fn of(model: &ModelProto) -> Self {
        let nodes = &model.graph.node;
        // Operators the parser renames after another (a Conv by its
        // kernel's dimensions, a MatMul and the Add it absorbs as a
        // linear layer) are named only where the renaming is certain.
        let mut uncertain: HashSet<&str> = ["Gemm", "MatMul"].into();
        for node in nodes {
            let kernel = node.attribute.iter().find(|a| a.name == "kernel_shape").map(|a| a.ints.len());
            if matches!(node.op_type.as_str(), "Conv" | "MaxPool" | "AveragePool") && kernel != Some(2) {
                uncertain.insert(node.op_type.as_str());
            }
            if node.op_type == "MatMul" {
                uncertain.insert("Add");
            }
        }
        let mut counts: HashMap<&str, usize> = HashMap::new();
        let mut names = HashMap::new();
        for node in nodes {
            let count = counts.entry(node.op_type.as_str()).or_default();
            *count += 1;
            if uncertain.contains(node.op_type.as_str()) || node.name.is_empty() {
                continue;
            }
            let parsed = match node.op_type.as_str() {
                "Conv" => "conv2d".to_owned(),
                "MaxPool" => "maxpool2d".to_owned(),
                "AveragePool" => "averagepool2d".to_owned(),
                other => other.to_lowercase(),
            };
            names.insert(format!("{parsed}{count}"), node.name.clone());
        }
        FileNames { names }
    }

    /// The file's name of the node the parser calls `parsed`.
    pub(crate) fn get(&self, parsed: &str) -> Option<&str> {
        self.names.get(parsed).map(String::as_str)
    }
}
