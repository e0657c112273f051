//! The data-path graph: where a run's bytes went.
//!
//! Nodes are places bytes can be (the disk, the page cache, a user buffer, the socket buffer,
//! a driver bounce buffer, the NIC, the wire, a kernel receive buffer); edges are the ways
//! they moved (a CPU copy, a DMA, a reference, a remap), weighted by bytes. Edges are
//! accumulated as the model moves data; the finished graph is a petgraph `DiGraph`, printable
//! as Graphviz DOT or as text.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use petgraph::graph::{DiGraph, NodeIndex};

/// A place bytes can be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathNode {
    Disk,
    PageCache,
    UserBuffer,
    SocketBuffer,
    DriverBounce,
    Nic,
    Wire,
    KernelBuffer,
    /// A peer device's memory (a devmem TCP dmabuf).
    DeviceMemory,
}

impl PathNode {
    pub fn name(self) -> &'static str {
        match self {
            PathNode::Disk => "disk",
            PathNode::PageCache => "page cache",
            PathNode::UserBuffer => "user buffer",
            PathNode::SocketBuffer => "socket buffer",
            PathNode::DriverBounce => "driver bounce buffer",
            PathNode::Nic => "NIC",
            PathNode::Wire => "wire",
            PathNode::KernelBuffer => "kernel receive buffer",
            PathNode::DeviceMemory => "device memory (dmabuf)",
        }
    }
}

/// How bytes moved along an edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathKind {
    CpuCopy,
    Dma,
    Reference,
    Remap,
}

impl PathKind {
    pub fn name(self) -> &'static str {
        match self {
            PathKind::CpuCopy => "CPU copy",
            PathKind::Dma => "DMA",
            PathKind::Reference => "reference",
            PathKind::Remap => "remap",
        }
    }
}

/// Bytes per (from, to, kind), in a deterministic order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DataPath {
    edges: BTreeMap<(PathNode, PathNode, PathKind), u64>,
}

impl DataPath {
    pub fn add(&mut self, from: PathNode, to: PathNode, kind: PathKind, bytes: u64) {
        if bytes > 0 {
            *self.edges.entry((from, to, kind)).or_default() += bytes;
        }
    }

    pub fn edges(&self) -> impl Iterator<Item = (PathNode, PathNode, PathKind, u64)> + '_ {
        self.edges.iter().map(|(&(f, t, k), &b)| (f, t, k, b))
    }

    /// Edges of a kind.
    pub fn count(&self, kind: PathKind) -> usize {
        self.edges.keys().filter(|e| e.2 == kind).count()
    }

    /// The graph, nodes in first-appearance order.
    pub fn graph(&self) -> DiGraph<PathNode, (PathKind, u64)> {
        let mut g = DiGraph::new();
        let mut index: BTreeMap<PathNode, NodeIndex> = BTreeMap::new();
        for (&(from, to, kind), &bytes) in &self.edges {
            let a = *index.entry(from).or_insert_with(|| g.add_node(from));
            let b = *index.entry(to).or_insert_with(|| g.add_node(to));
            g.add_edge(a, b, (kind, bytes));
        }
        g
    }

    /// Graphviz DOT: CPU copies red, DMA blue, references and remaps dashed.
    pub fn to_dot(&self, title: &str) -> String {
        let g = self.graph();
        let mut out = String::new();
        let _ = writeln!(out, "digraph \"{}\" {{", title.replace('"', "'"));
        let _ = writeln!(out, "  rankdir=LR;");
        for i in g.node_indices() {
            let _ = writeln!(out, "  n{} [label=\"{}\"];", i.index(), g[i].name());
        }
        for e in g.edge_indices() {
            let (a, b) = g.edge_endpoints(e).expect("edge exists");
            let (kind, bytes) = g[e];
            let style = match kind {
                PathKind::CpuCopy => "color=red",
                PathKind::Dma => "color=blue",
                PathKind::Reference | PathKind::Remap => "style=dashed",
            };
            let _ = writeln!(
                out,
                "  n{} -> n{} [label=\"{} {}\", {style}];",
                a.index(),
                b.index(),
                kind.name(),
                human_bytes(bytes)
            );
        }
        out.push_str("}\n");
        out
    }

    /// One line per edge: `page cache -> socket buffer: reference, 16.0 MiB`.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for (f, t, k, b) in self.edges() {
            let _ = writeln!(
                out,
                "{} -> {}: {}, {}",
                f.name(),
                t.name(),
                k.name(),
                human_bytes(b)
            );
        }
        out
    }
}

/// Binary units with one decimal: `512 B`, `64.0 KiB`, `16.0 MiB`.
pub fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if b < 1024 {
        return format!("{b} B");
    }
    let mut v = b as f64 / 1024.0;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    format!("{v:.1} {}", UNITS[u])
}
