//! Which containers are this deployment's: those the guard saw created
//! (remembered by ID), and those the engine says carry this deployment's
//! labels (leftovers of an earlier server, or forgotten here). A container
//! ID is never reused, so a remembered one cannot come to name another
//! container.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

use serde_json::Value;
use snipbox_spec::spec::{LABEL, LABEL_INSTANCE};

/// Remembered IDs, at most this many: past it the oldest are forgotten
/// and asked of the engine again when used (containers that removed
/// themselves are never reported to the guard).
const CAPACITY: usize = 16_384;

/// The IDs of containers known to be this deployment's.
#[derive(Debug, Default)]
pub struct Owned {
    known: Mutex<Known>,
}

#[derive(Debug, Default)]
struct Known {
    ids: HashSet<String>,
    order: VecDeque<String>,
}

impl Owned {
    pub fn remember(&self, id: &str) {
        let mut k = self.known.lock().expect("not poisoned");
        if k.ids.insert(id.to_string()) {
            k.order.push_back(id.to_string());
        }
        while k.order.len() > CAPACITY {
            if let Some(old) = k.order.pop_front() {
                k.ids.remove(&old);
            }
        }
    }

    pub fn forget(&self, id: &str) {
        let mut k = self.known.lock().expect("not poisoned");
        if k.ids.remove(id) {
            k.order.retain(|x| x != id);
        }
    }

    pub fn knows(&self, id: &str) -> bool {
        self.known.lock().expect("not poisoned").ids.contains(id)
    }
}

/// Whether the engine's inspection of container `id` shows it is this
/// deployment's: the very ID asked for (not a name or prefix that resolved
/// to another), labelled `snipbox=1` and `snipbox.instance=<instance>`.
pub fn inspected_is_ours(inspect: &Value, id: &str, instance: &str) -> bool {
    let labels = &inspect["Config"]["Labels"];
    inspect["Id"] == id && labels[LABEL] == "1" && labels[LABEL_INSTANCE] == instance
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn remembered_ids_are_known_until_forgotten_or_crowded_out() {
        let owned = Owned::default();
        owned.remember("a");
        assert!(owned.knows("a") && !owned.knows("b"));
        owned.forget("a");
        assert!(!owned.knows("a"));
        for i in 0..=CAPACITY {
            owned.remember(&i.to_string());
        }
        assert!(!owned.knows("0"), "the oldest is forgotten first");
        assert!(owned.knows("1") && owned.knows(&CAPACITY.to_string()));
    }

    #[test]
    fn only_this_deployments_labels_make_a_container_ours() {
        let c = |id: &str, labels: Value| json!({"Id": id, "Config": {"Labels": labels}});
        let ours = json!({"snipbox": "1", "snipbox.instance": "docs"});
        assert!(inspected_is_ours(&c("x", ours.clone()), "x", "docs"));
        assert!(!inspected_is_ours(&c("y", ours.clone()), "x", "docs"));
        assert!(!inspected_is_ours(&c("x", ours), "x", "blog"));
        assert!(!inspected_is_ours(
            &c("x", json!({"snipbox.instance": "docs"})),
            "x",
            "docs"
        ));
        assert!(!inspected_is_ours(&c("x", Value::Null), "x", "docs"));
    }
}
