//! The dispatcher's own transactions: answers to requests that belong to no
//! dialog (OPTIONS, 481s, 405/501, rejected INVITEs), kept so that their
//! retransmissions are answered from memory and rejected INVITEs' ACKs absorbed.

use ezk_sip_types::Name;

use super::checks::MergeKey;
use super::{Dispatcher, TimerRef};
use crate::deadlines::{schedule, take_if_live};
use crate::sip::incoming::IncomingRequest;
use crate::sip::method::{Method, ALLOWED_METHODS};
use crate::sip::transaction::{InviteServerTx, InviteTimeout, NonInviteServerTx, TxKey};
use crate::slab::SlabKey;
use crate::time::Time;

/// One transaction the dispatcher answers itself.
pub(super) struct OwnTx {
    key: TxKey,
    merge: MergeKey,
    kind: OwnKind,
    scheduled: Option<Time>,
    /// The link its request came by (its retransmissions' link).
    link: crate::sip::event::Link,
}

enum OwnKind {
    /// A rejected INVITE: its final response, retransmitted until the ACK.
    Invite(InviteServerTx),
    /// An answered non-INVITE request, until Timer J.
    NonInvite(NonInviteServerTx),
}

impl OwnKind {
    fn deadline(&self) -> Time {
        match self {
            OwnKind::Invite(tx) => tx.deadline().unwrap_or(Time::NEVER),
            OwnKind::NonInvite(tx) => tx.ends_at,
        }
    }
}

impl Dispatcher {
    /// Resends the stored response if `incoming` retransmits a request the
    /// dispatcher answered itself.
    pub(super) fn absorb_retransmission(&mut self, incoming: &IncomingRequest) -> bool {
        let Some(key) = self.own_slot_by_key(&incoming.key) else {
            return false;
        };
        let resend = match self.own.get(key).map(|own| &own.kind) {
            Some(OwnKind::Invite(tx)) => tx
                .response_to_retransmission()
                .map(|r| (tx.dest, r.to_vec())),
            Some(OwnKind::NonInvite(tx)) => Some((tx.dest, tx.response.clone())),
            None => return false,
        };
        self.stats.request_retransmits_absorbed += 1;
        if let Some((dest, response)) = resend {
            self.retransmit(dest, response);
        }
        true
    }

    /// An ACK outside any dialog: for a rejected INVITE, or unmatched.
    pub(super) fn on_stray_ack(&mut self, now: Time, incoming: &IncomingRequest) {
        let own = self
            .own_slot_by_key(&incoming.key)
            .and_then(|key| self.own.get_mut(key));
        match own.map(|own| &mut own.kind) {
            Some(OwnKind::Invite(tx)) => {
                tx.on_ack(now);
                if let Some(key) = self.own_slot_by_key(&incoming.key) {
                    self.reschedule_own(key);
                }
            }
            _ => self.stats.unmatched_acks += 1,
        }
    }

    /// A non-INVITE request outside any dialog.
    pub(super) fn on_stray_non_invite(&mut self, now: Time, incoming: &IncomingRequest) {
        if self.absorb_retransmission(incoming) || self.refuse_loop(now, incoming) {
            return;
        }
        if incoming.request.method != Method::Cancel {
            let unsupported = crate::sip::requirements::unsupported_extensions(&incoming.request);
            if !unsupported.is_empty() {
                let extra = vec![(Name::UNSUPPORTED, unsupported.join(", "))];
                return self.respond(now, incoming, 420, extra);
            }
        }
        match incoming.request.method {
            Method::Cancel => {
                // CANCEL of an INVITE we rejected: accepted, no effect (§9.2).
                let invite = incoming.key.invite_of_cancel();
                let status = if self.own_slot_by_key(&invite).is_some() {
                    200
                } else {
                    481
                };
                self.respond(now, incoming, status, Vec::new());
            }
            Method::Bye | Method::Info | Method::Update | Method::Prack => {
                self.respond(now, incoming, 481, Vec::new())
            }
            Method::Options => {
                let extra = vec![
                    (Name::ALLOW, ALLOWED_METHODS.to_owned()),
                    (Name::ACCEPT, "application/sdp".to_owned()),
                    (Name::SUPPORTED, crate::sip::requirements::supported_tags()),
                ];
                self.respond(now, incoming, 200, extra);
            }
            Method::Other(_) => self.respond(now, incoming, 501, Vec::new()),
            _ => {
                let extra = vec![(Name::ALLOW, ALLOWED_METHODS.to_owned())];
                self.respond(now, incoming, 405, extra);
            }
        }
    }

    /// Answers an INVITE that starts no call with a final non-2xx.
    pub(super) fn refuse_invite(
        &mut self,
        now: Time,
        incoming: &IncomingRequest,
        status: u16,
        extra: Vec<(Name, String)>,
    ) {
        let tag = self.new_tag();
        let response = incoming.response(status, &tag, extra, &self.config.user_agent);
        let tx =
            InviteServerTx::refused(now, incoming.source, response.clone(), self.config.timers);
        self.insert_own(incoming, OwnKind::Invite(tx));
        self.transmit(incoming.source, response);
    }

    /// Answers a non-INVITE request with a fresh To tag and remembers the answer.
    pub(super) fn respond(
        &mut self,
        now: Time,
        incoming: &IncomingRequest,
        status: u16,
        extra: Vec<(Name, String)>,
    ) {
        let tag = self.new_tag();
        let response = incoming.response(status, &tag, extra, &self.config.user_agent);
        let tx =
            NonInviteServerTx::new(now, incoming.source, response.clone(), &self.config.timers);
        self.insert_own(incoming, OwnKind::NonInvite(tx));
        self.transmit(incoming.source, response);
    }

    /// Keeps the transaction of `incoming`, findable by its key and, for the
    /// merge check, by its [`MergeKey`] (the first transaction of a merge key
    /// keeps it while it lives).
    fn insert_own(&mut self, incoming: &IncomingRequest, kind: OwnKind) {
        let key = incoming.key.clone();
        let key_hash = self.own_by_key.hash_of(&key);
        if let Some(old) = self.own_slot_filed(key_hash, &key) {
            self.remove_own(old);
        }
        let merge = MergeKey::of(incoming);
        let merge_hash = self.own_by_merge.hash_of(&merge);
        let merge_held = self.own_slot_merged(merge_hash, &merge).is_some();
        let slot = self.own.insert(OwnTx {
            key,
            merge,
            kind,
            scheduled: None,
            link: self.link,
        });
        self.own_by_key.insert(key_hash, slot);
        if !merge_held {
            self.own_by_merge.insert(merge_hash, slot);
        }
        self.reschedule_own(slot);
    }

    fn reschedule_own(&mut self, slot: SlabKey) {
        if let Some(own) = self.own.get_mut(slot) {
            let at = own.kind.deadline();
            schedule(
                &mut self.timers,
                &mut own.scheduled,
                at,
                TimerRef::Own(slot),
            );
        }
    }

    fn remove_own(&mut self, slot: SlabKey) {
        if let Some(own) = self.own.remove(slot) {
            self.own_by_key
                .remove(self.own_by_key.hash_of(&own.key), slot);
            self.own_by_merge
                .remove(self.own_by_merge.hash_of(&own.merge), slot);
        }
    }

    /// The own transaction `key` names.
    fn own_slot_by_key(&self, key: &TxKey) -> Option<SlabKey> {
        self.own_slot_filed(self.own_by_key.hash_of(key), key)
    }

    /// The own transaction `key`, whose hash in `own_by_key` is `hash`, names.
    fn own_slot_filed(&self, hash: u64, key: &TxKey) -> Option<SlabKey> {
        self.own_by_key.find(hash, |slot| {
            self.own.get(slot).is_some_and(|own| own.key == *key)
        })
    }

    /// The own transaction that first took `merge` (a later one with the
    /// same merge key, but another branch, is a merged request: 482).
    pub(super) fn own_slot_by_merge(&self, merge: &MergeKey) -> Option<SlabKey> {
        self.own_slot_merged(self.own_by_merge.hash_of(merge), merge)
    }

    /// [`Self::own_slot_by_merge`] for a merge key already hashed.
    fn own_slot_merged(&self, hash: u64, merge: &MergeKey) -> Option<SlabKey> {
        self.own_by_merge.find(hash, |slot| {
            self.own.get(slot).is_some_and(|own| own.merge == *merge)
        })
    }

    /// A popped timer entry of one of the dispatcher's own transactions.
    pub(super) fn run_own_timer(&mut self, now: Time, at: Time, slot: SlabKey) {
        let Some(own) = self.own.get_mut(slot) else {
            return;
        };
        if !take_if_live(&mut own.scheduled, at) {
            return;
        }
        self.link = own.link;
        match &mut own.kind {
            OwnKind::NonInvite(tx) => {
                if tx.ends_at <= now {
                    self.remove_own(slot);
                } else {
                    self.reschedule_own(slot);
                }
            }
            OwnKind::Invite(tx) => match tx.on_timeout(now) {
                InviteTimeout::Nothing => self.reschedule_own(slot),
                InviteTimeout::Retransmit => {
                    let (dest, response) = (tx.dest, tx.last_response().to_vec());
                    self.retransmit(dest, response);
                    self.reschedule_own(slot);
                }
                InviteTimeout::AckTimeout2xx | InviteTimeout::AckTimeoutNon2xx => {
                    self.stats.ack_timeouts += 1;
                    self.remove_own(slot);
                }
                InviteTimeout::Expired => self.remove_own(slot),
            },
        }
    }
}
