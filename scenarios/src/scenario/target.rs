//! Resolving a target: the blank target every key fills, presets, overrides and the
//! checks that need several keys at once.

use super::*;

pub(super) fn blank_target() -> Target {
    use models::machine::{CostTable, DiskConfig, MachineConfig};
    use models::net::{LinkConfig, LinkKind, NicConfig, StackCosts, TcpConfig};
    use sim::{ByteRate, SimDuration};
    let r = ByteRate::from_bytes_per_sec(1);
    Target {
        name: String::new(),
        description: String::new(),
        linux_sendpage_fallback: false,
        loopback: false,
        link_rate: r,
        device_memory_bytes: 0,
        device_memory_rate: 0,
        preset: None,
        values: Default::default(),
        world: models::world::WorldConfig {
            machine: MachineConfig {
                cpus: 1,
                memory_bus: r,
                costs: CostTable {
                    syscall_ns: 0,
                    context_switch_ns: 0,
                    ipi_ns: 0,
                    trap_ns: 0,
                    minor_fault_ns: 0,
                    major_fault_ns: 0,
                    cow_fault_ns: 0,
                    pte_update_ns: 0,
                    tlb_flush_ns: 0,
                    tlb_shootdown_per_cpu_ns: 0,
                    vma_cache_hit_ns: 0,
                    vma_per_level_ns: 0,
                    mmap_ns: 0,
                    mmap_per_page_ns: 0,
                    munmap_ns: 0,
                    munmap_per_page_ns: 0,
                    loan_per_page_ns: 0,
                    unloan_per_page_ns: 0,
                    page_alloc_ns: 0,
                    cpu_copy_rate: r,
                    cpu_copy_hot_rate: r,
                    cpu_checksum_rate: r,
                    cpu_zero_rate: r,
                    cpu_crypto_rate: r,
                    write_allocate: false,
                },
                disk: DiskConfig {
                    latency_ns: 0,
                    rate: r,
                },
                device_memory: None,
            },
            link: LinkConfig {
                kind: LinkKind::Loopback,
                mtu_bytes: 1500,
                tcp_timestamps: false,
                ipv6: false,
                rtt: SimDuration::ZERO,
                loss: 0.0,
            },
            nic: NicConfig {
                tx_ring_slots: 1,
                rx_ring_slots: 1,
                dma_rate: None,
                scatter_gather: false,
                max_frags: 1,
                checksum_offload: false,
                header_split: false,
                tx_coalesce: 1,
                tso: false,
                gro: false,
                flow_steering: false,
                page_pool: false,
            },
            tcp: TcpConfig {
                send_buffer_bytes: 0,
                recv_buffer_bytes: 0,
                window_bytes: 0,
                ack_every: 1,
                delayed_ack: SimDuration::ZERO,
                rto: SimDuration::ZERO,
                initial_window_segments: 2,
                congestion_control: true,
                nodelay: false,
                nagle: Default::default(),
            },
            stack: StackCosts {
                tcp_output_per_segment_ns: 0,
                tcp_input_per_segment_ns: 0,
                tcp_ack_ns: 0,
                driver_per_frag_ns: 0,
                interrupt_ns: 0,
                tx_complete_per_packet_ns: 0,
                mbuf_ns: 0,
                socket_per_chunk_ns: 0,
            },
            fused_copy_checksum: false,
            user_space_bytes: 0,
            read_ahead_bytes: 0,
            fault_around_bytes: 0,
            llc_bytes: 0,
            seed: 1,
        },
    }
}

/// The preset (named by `preset`, the default when no `[target]` is given), then the
/// scenario's and the flags' keys over it; every key must end up set.
pub(super) fn resolve_target(path: &str, mut table: Table) -> Result<Target, ScenarioError> {
    // The descriptive keys are strings; `--set target.name=42` is a mistake, not a name.
    for meta in TARGET_META {
        if let Some(e) = table.get(meta)
            && !e.value.is_str()
        {
            return Err(ScenarioError {
                origin: e.origin.clone(),
                field: format!("target.{meta}"),
                value: Some(render(&e.value)),
                problem: format!("must be a string in quotes, not {}", type_name(&e.value)),
                allowed: Some(if meta == "preset" {
                    presets::NAMES.join(", ")
                } else {
                    "any text in quotes".into()
                }),
            });
        }
    }
    let user_link_rate = table.get("link_rate").cloned();
    let user_hot_rate = table.get("cpu_copy_hot_rate").cloned();
    let user_nagle = table.get("nagle").cloned();
    let preset = match table.remove("preset") {
        Some(e) => {
            let Some(name) = e.value.as_str() else {
                return Err(ScenarioError {
                    origin: e.origin,
                    field: "target.preset".into(),
                    value: Some(render(&e.value)),
                    problem: "must be a preset name in quotes".into(),
                    allowed: Some(presets::NAMES.join(", ")),
                });
            };
            Some((name.to_owned(), e.origin))
        }
        None if table.is_empty() => Some((
            presets::DEFAULT.to_owned(),
            Origin::Whole { path: path.into() },
        )),
        None => None,
    };
    let mut merged = Table::new();
    let mut name = String::from("custom");
    let mut description = String::from("inline target");
    let mut preset_name = None;
    if let Some((preset, origin)) = preset {
        // A name ending in `.toml` is a preset file (`zcsim calibrate --out host.toml`).
        let file_text;
        let (text, preset_path) = match presets::text(&preset) {
            Some(t) => (t, format!("scenarios/presets/{preset}.toml")),
            None if preset.ends_with(".toml") => {
                file_text = read_scenario_file(&preset)?;
                (file_text.as_str(), preset.clone())
            }
            None => {
                return Err(ScenarioError {
                    origin,
                    field: "target.preset".into(),
                    value: Some(format!("\"{preset}\"")),
                    problem: "is not a preset".into(),
                    allowed: Some(format!(
                        "{}, or a preset file ending in .toml",
                        presets::NAMES.join(", ")
                    )),
                });
            }
        };
        let src = Source::new(&preset_path, text);
        let root = src.parse()?;
        for (k, v) in root {
            let key = k.into_inner().into_owned();
            let e = src.entry(&format!("target.{key}"), v)?;
            merged.insert(key, e);
        }
        name = preset.clone();
        if let Some(d) = merged.get("description").and_then(|e| e.value.as_str()) {
            description = d.to_owned();
        }
        // A key set to the preset's own value (as a printed configuration does) changes
        // nothing.
        if table
            .iter()
            .any(|(k, e)| merged.get(k).is_none_or(|p| p.value != e.value))
        {
            name = format!("{preset} (overridden)");
        }
        preset_name = Some(preset);
    }
    merged.extend(table);
    for meta in TARGET_META {
        merged.remove(meta);
    }
    let keys = target_keys();
    let mut target = resolve_keys("target", &merged, blank_target(), &keys)?;
    // The link rate is the Ethernet line's: on loopback it does not apply, so a rate the user
    // wrote for a loopback target is a contradiction (a preset's rate, kept for when a user
    // switches the link to Ethernet, is not the user's).
    if target.loopback
        && let Some(e) = user_link_rate
    {
        return Err(ScenarioError {
            origin: e.origin,
            field: "target.link_rate".into(),
            value: Some(render(&e.value)),
            problem: "does not apply to link = \"loopback\"".into(),
            allowed: Some("link_rate only with link = \"ethernet\"".into()),
        });
    }
    // The hot copy rate is what a cache hit costs: with no cache nothing hits, so a rate the
    // user wrote would be silently unused (a preset's, kept for a cache the user adds, is not
    // the user's).
    if target.world.llc_bytes == 0
        && let Some(e) = user_hot_rate
    {
        return Err(ScenarioError {
            origin: e.origin,
            field: "target.cpu_copy_hot_rate".into(),
            value: Some(render(&e.value)),
            problem: "does not apply with llc_bytes = 0 (no cache: every copy is cold)".into(),
            allowed: Some("cpu_copy_hot_rate only with llc_bytes > 0".into()),
        });
    }
    // Nagle's rule decides when a short segment waits; with TCP_NODELAY none ever does, so
    // a rule the user wrote would be silently unused (a preset's, kept for when the user
    // turns TCP_NODELAY off, is not the user's).
    if target.world.tcp.nodelay
        && let Some(e) = user_nagle
    {
        return Err(ScenarioError {
            origin: e.origin,
            field: "target.nagle".into(),
            value: Some(render(&e.value)),
            problem: "does not apply with tcp_nodelay = true (no short segment is ever held)"
                .into(),
            allowed: Some("nagle only with tcp_nodelay = false".into()),
        });
    }
    let missing: Vec<&str> = keys
        .iter()
        .map(|k| k.name)
        // A loopback target has no line rate to set, a target without a cache no hot rate,
        // one with TCP_NODELAY no Nagle rule.
        .filter(|n| !(merged.contains_key(*n) || unused_key(&target, n)))
        .collect();
    if !missing.is_empty() {
        return Err(ScenarioError {
            origin: Origin::Whole { path: path.into() },
            field: format!("target.{}", missing[0]),
            value: None,
            problem: format!(
                "is required: without a preset, a target must set every parameter ({} missing)",
                missing.len()
            ),
            allowed: Some(format!(
                "preset = one of {}, or all of: {}",
                presets::NAMES.join(", "),
                missing.join(", ")
            )),
        });
    }
    target.finish();
    target.preset = preset_name;
    target.values = merged
        .iter()
        .filter(|(k, _)| !unused_key(&target, k))
        .map(|(k, e)| (k.clone(), e.value.clone()))
        .collect();
    target.name = name;
    target.description = description;
    // The peer device memory takes both keys or neither: a bandwidth without memory, or
    // memory no DMA can reach, is a contradiction.
    let (bytes, rate) = (target.device_memory_bytes, target.device_memory_rate);
    if (bytes == 0) != (rate == 0) {
        let key = if bytes == 0 {
            "device_memory_bandwidth"
        } else {
            "device_memory"
        };
        let e = &merged[key];
        return Err(ScenarioError {
            origin: e.origin.clone(),
            field: format!("target.{key}"),
            value: Some(render(&e.value)),
            problem: format!(
                "is set while {} is 0",
                if bytes == 0 {
                    "device_memory"
                } else {
                    "device_memory_bandwidth"
                }
            ),
            allowed: Some(
                "both device_memory and device_memory_bandwidth above 0 (a peer device), or both 0 (none)"
                    .into(),
            ),
        });
    }
    // Cross-field sanity: a full segment must fit every buffer and window on its way, or TCP
    // could never send one.
    let mss = target.world.link.mss();
    let tcp = &target.world.tcp;
    for (key, bytes) in [
        ("send_buffer", tcp.send_buffer_bytes),
        ("recv_buffer", tcp.recv_buffer_bytes),
        ("window", tcp.window_bytes),
    ] {
        if bytes < mss {
            let e = &merged[key];
            return Err(ScenarioError {
                origin: e.origin.clone(),
                field: format!("target.{key}"),
                value: Some(render(&e.value)),
                problem: format!("is smaller than one segment ({mss} bytes at this MTU)"),
                allowed: Some(format!("at least {mss} bytes, or a smaller mtu_bytes")),
            });
        }
    }
    Ok(target)
}

/// Whether the target's other settings leave key `name` with nothing to do: a line rate on
/// loopback, a hot copy rate without a cache, a Nagle rule under TCP_NODELAY. Such a key is
/// not required of a target, and a preset's value of it is left out of the printed
/// configuration (which a user could not load back).
fn unused_key(target: &Target, name: &str) -> bool {
    target.loopback && name == "link_rate"
        || target.world.llc_bytes == 0 && name == "cpu_copy_hot_rate"
        || target.world.tcp.nodelay && name == "nagle"
}
