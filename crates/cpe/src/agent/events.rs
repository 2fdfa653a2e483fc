//! Undelivered Inform events and their retention (TR-069 §3.7.1.5, notes §4.4).
//!
//! Events tied to a CPE request — `7 TRANSFER COMPLETE` with `M Download` / `M Upload` /
//! `M ScheduleDownload`, `11 DU STATE CHANGE COMPLETE` with `M ChangeDUState` — are not kept
//! here: the agent derives them from the TransferComplete and DUStateChangeComplete records
//! still awaiting their response, so they live exactly as long as the notes' table says
//! ("removed when TransferCompleteResponse ..."), across failed sessions and reboots.

use cwmp::event_code as code;
use serde::{Deserialize, Serialize};

/// At most this many events wait (the Inform's `Event` array holds at most 64, notes §2.4).
pub const MAX_EVENTS: usize = 64;

/// One event awaiting delivery: its code and, for `M` events, the method's CommandKey.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// E.g. `2 PERIODIC`, `M Reboot`.
    pub code: String,
    /// The CommandKey of an `M` event; empty otherwise.
    #[serde(default)]
    pub command_key: String,
}

impl Event {
    /// An event.
    pub fn new(code: &str, command_key: &str) -> Event {
        Event {
            code: code.to_owned(),
            command_key: command_key.to_owned(),
        }
    }

    /// `M ...` events may occur once per CommandKey ("multiple" in notes §4.4); every other
    /// event is single.
    pub fn is_multiple(&self) -> bool {
        self.code.starts_with("M ")
    }
}

/// Whether an undelivered event is kept after an unsuccessful session (notes §4.4 table):
/// all but `6 CONNECTION REQUEST`, which is not retried.
pub fn retried_after_failure(event_code: &str) -> bool {
    event_code != code::CONNECTION_REQUEST
}

/// Whether an undelivered event survives a reboot (notes §4.4 table): `1 BOOT` is replaced
/// by the new boot's, `4 VALUE CHANGE` values are stale, `6 CONNECTION REQUEST` is never
/// retried and `8 DIAGNOSTICS COMPLETE` results do not survive; the rest is kept.
pub fn retained_across_reboot(event_code: &str) -> bool {
    !matches!(
        event_code,
        code::BOOT | code::VALUE_CHANGE | code::CONNECTION_REQUEST | code::DIAGNOSTICS_COMPLETE
    )
}

/// Events that must not be lost to the cap: a newer one evicts something else.
fn essential(event_code: &str) -> bool {
    matches!(event_code, code::BOOTSTRAP | code::BOOT) || event_code == code::M_REBOOT
}

/// Order in the Inform: BOOTSTRAP, BOOT, then by arrival.
fn rank(event_code: &str) -> u8 {
    match event_code {
        code::BOOTSTRAP => 0,
        code::BOOT => 1,
        _ => 2,
    }
}

/// The queue of events awaiting an InformResponse.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventQueue {
    events: Vec<Event>,
}

impl EventQueue {
    /// Adds an event unless an equal one waits already (same code, and same CommandKey for
    /// `M` events). `false` if it was already there or the queue is full of events that
    /// cannot make way.
    pub fn push(&mut self, event_code: &str, command_key: &str) -> bool {
        let event = Event::new(
            event_code,
            if event_code.starts_with("M ") {
                command_key
            } else {
                ""
            },
        );
        if self.events.iter().any(|e| {
            e.code == event.code && (!event.is_multiple() || e.command_key == event.command_key)
        }) {
            return false;
        }
        if self.events.len() >= MAX_EVENTS {
            // Make way by dropping the oldest non-essential event, if the new one matters.
            let victim = self.events.iter().position(|e| !essential(&e.code));
            match victim {
                Some(i) if essential(&event.code) => {
                    self.events.remove(i);
                }
                _ => return false,
            }
        }
        self.events.push(event);
        true
    }

    /// Whether an event with this code waits.
    #[cfg(test)]
    pub fn contains(&self, event_code: &str) -> bool {
        self.events.iter().any(|e| e.code == event_code)
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The waiting events in Inform order.
    pub fn ordered(&self) -> Vec<Event> {
        let mut out = self.events.clone();
        out.sort_by_key(|e| rank(&e.code));
        out
    }

    /// The InformResponse arrived: the events that Inform carried are delivered.
    pub fn remove_delivered(&mut self, delivered: &[Event]) {
        self.events.retain(|e| !delivered.contains(e));
    }

    /// The session failed: drop what is not retried.
    pub fn after_failed_session(&mut self) {
        self.events.retain(|e| retried_after_failure(&e.code));
    }

    /// The device rebooted: drop what does not survive a reboot.
    pub fn after_reboot(&mut self) {
        self.events.retain(|e| retained_across_reboot(&e.code));
    }

    /// The ACS URL changed: undelivered events were meant for the old ACS (notes §4.4,
    /// "discards undelivered events destined for the old ACS"); `0 BOOTSTRAP` and `1 BOOT`
    /// and `M Reboot` still describe the device and stay.
    pub fn discard_for_new_acs(&mut self) {
        self.events.retain(|e| essential(&e.code));
    }

    /// Number of waiting events.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.events.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_events_once_multiple_per_command_key() {
        let mut q = EventQueue::default();
        assert!(q.push(code::PERIODIC, ""));
        assert!(!q.push(code::PERIODIC, ""));
        assert!(q.push(code::M_REBOOT, "a"));
        assert!(q.push(code::M_REBOOT, "b"));
        assert!(!q.push(code::M_REBOOT, "a"));
        // Single events never carry a CommandKey.
        assert!(q.push(code::SCHEDULED, "ignored"));
        assert_eq!(q.len(), 4);
        assert!(
            q.ordered()
                .iter()
                .all(|e| e.code != code::SCHEDULED || e.command_key.is_empty())
        );
    }

    #[test]
    fn bootstrap_and_boot_come_first() {
        let mut q = EventQueue::default();
        q.push(code::PERIODIC, "");
        q.push(code::BOOT, "");
        q.push(code::BOOTSTRAP, "");
        let codes: Vec<String> = q.ordered().into_iter().map(|e| e.code).collect();
        assert_eq!(codes, [code::BOOTSTRAP, code::BOOT, code::PERIODIC]);
    }

    /// The retention table of notes §4.4, for the events kept in the queue.
    #[test]
    fn retention_table() {
        let all = [
            (code::BOOTSTRAP, true, true),
            (code::BOOT, true, false),
            (code::PERIODIC, true, true),
            (code::SCHEDULED, true, true),
            (code::M_SCHEDULE_INFORM, true, true),
            (code::VALUE_CHANGE, true, false),
            (code::KICKED, true, true),
            (code::CONNECTION_REQUEST, false, false),
            (code::DIAGNOSTICS_COMPLETE, true, false),
            (code::REQUEST_DOWNLOAD, true, true),
            (code::M_REBOOT, true, true),
        ];
        for (c, after_failure, after_reboot) in all {
            assert_eq!(retried_after_failure(c), after_failure, "{c} after failure");
            assert_eq!(retained_across_reboot(c), after_reboot, "{c} after reboot");
            let mut q = EventQueue::default();
            q.push(c, "k");
            q.after_failed_session();
            assert_eq!(q.contains(c), after_failure, "{c} queue after failure");
            let mut q = EventQueue::default();
            q.push(c, "k");
            q.after_reboot();
            assert_eq!(q.contains(c), after_reboot, "{c} queue after reboot");
        }
    }

    #[test]
    fn delivered_events_are_removed_others_stay() {
        let mut q = EventQueue::default();
        q.push(code::BOOT, "");
        q.push(code::M_REBOOT, "k1");
        let delivered = q.ordered();
        // Arrives while the Inform is on its way: not delivered by it.
        q.push(code::M_REBOOT, "k2");
        q.remove_delivered(&delivered);
        assert_eq!(q.ordered(), vec![Event::new(code::M_REBOOT, "k2")]);
    }

    #[test]
    fn the_queue_is_capped() {
        let mut q = EventQueue::default();
        for i in 0..200 {
            q.push(code::M_SCHEDULE_INFORM, &format!("k{i}"));
        }
        assert_eq!(q.len(), MAX_EVENTS);
        // An essential event still gets in, evicting an older one.
        assert!(q.push(code::BOOT, ""));
        assert_eq!(q.len(), MAX_EVENTS);
        assert!(q.contains(code::BOOT));
        assert!(!q.push(code::PERIODIC, ""));
    }

    #[test]
    fn new_acs_keeps_only_what_describes_the_device() {
        let mut q = EventQueue::default();
        q.push(code::BOOTSTRAP, "");
        q.push(code::BOOT, "");
        q.push(code::PERIODIC, "");
        q.push(code::M_SCHEDULE_INFORM, "x");
        q.discard_for_new_acs();
        let codes: Vec<String> = q.ordered().into_iter().map(|e| e.code).collect();
        assert_eq!(codes, [code::BOOTSTRAP, code::BOOT]);
    }
}
