//! Pub/Sub: the server-wide registry of subscriptions (Redis's pubsub.c) and
//! keyspace notifications (notify.c).
//!
//! Each connection owns a mailbox (a queue of [`Reply`] pushes, allocated
//! only once something is pushed: most clients never get one).
//! Subscribing, unsubscribing and publishing all happen under the registry's
//! one lock, and every push (message or confirmation) goes through the
//! mailbox, so a client sees its confirmations and messages in exactly the
//! order Redis's single thread would have written them. The connection task
//! writes its mailbox out as it drains it; what it has not drained yet is the
//! client's pending output, held to `client-output-buffer-limit pubsub`.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;

use crate::client::ClientHandle;
use crate::config::{notify, Config, OutputBufferLimit};
use crate::glob::glob_match;
use crate::keyspace::{Event, EventSink};
use crate::protocol::Reply;

/// The three kinds of subscription, each with its own namespace and counts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// SUBSCRIBE: exact channel names.
    Channel,
    /// PSUBSCRIBE: glob patterns over channel names.
    Pattern,
    /// SSUBSCRIBE: shard channels (a namespace of their own, SPUBLISH).
    Shard,
}

impl Kind {
    fn index(self) -> usize {
        self as usize
    }

    fn subscribe_name(self) -> &'static str {
        match self {
            Kind::Channel => "subscribe",
            Kind::Pattern => "psubscribe",
            Kind::Shard => "ssubscribe",
        }
    }

    fn unsubscribe_name(self) -> &'static str {
        match self {
            Kind::Channel => "unsubscribe",
            Kind::Pattern => "punsubscribe",
            Kind::Shard => "sunsubscribe",
        }
    }
}

/// Pushes a drained mailbox keeps room for: a subscriber fed one message at
/// a time does not allocate its queue for each.
const MAILBOX_KEPT: usize = 8;

/// One connection's mailbox as publishers (and MONITOR's feed) see it.
pub struct Subscriber {
    handle: Arc<ClientHandle>,
    queue: std::sync::Mutex<std::collections::VecDeque<Reply>>,
}

impl Subscriber {
    /// Queues a push for the client, then closes it if that takes it over
    /// its output buffer limit (Redis's `checkClientOutputBufferLimits` +
    /// `freeClientAsync`).
    pub fn push(&self, reply: Reply, limit: OutputBufferLimit) {
        if self.handle.is_killed() {
            return;
        }
        let size = resp_len(&reply);
        let used = self.handle.mailbox_bytes.fetch_add(size, Ordering::Relaxed) + size;
        self.queue().push_back(reply);
        self.handle.doorbell.ring();
        self.check_limit(used, limit);
        if self.handle.memory.evicting_clients() {
            // Evicted as the push lands if it takes the clients over
            // `maxmemory-clients`, not when the client next runs.
            self.handle.account_memory();
        }
    }

    /// Closes the client when `used` pending bytes break `limit`
    /// (`closeClientOnOutputBufferLimitReached`).
    fn check_limit(&self, used: usize, limit: OutputBufferLimit) {
        if self.over_limit(used as u64, limit) {
            tracing::warn!(
                id = self.handle.id,
                "Client scheduled to be closed ASAP for overcoming of output buffer limits."
            );
            self.handle.kill();
        }
    }

    /// Drops the pushes still queued: the client was killed, and a killed
    /// client is not written to (Redis frees its reply list with it).
    pub fn discard(&self) {
        let dropped = std::mem::take(&mut *self.queue());
        let bytes: usize = dropped.iter().map(resp_len).sum();
        self.handle
            .mailbox_bytes
            .fetch_sub(bytes, Ordering::Relaxed);
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, std::collections::VecDeque<Reply>> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn over_limit(&self, used: u64, limit: OutputBufferLimit) -> bool {
        self.handle.soft_limit.over(used, limit)
    }
}

/// The RESP2 size of a push, as Redis counts it in the output buffer.
fn resp_len(reply: &Reply) -> usize {
    let header = |n: usize| 3 + itoa::Buffer::new().format(n).len();
    match reply {
        Reply::Push(items) | Reply::Array(items) => {
            header(items.len()) + items.iter().map(resp_len).sum::<usize>()
        }
        Reply::Bulk(b) => header(b.len()) + b.len() + 2,
        Reply::Integer(n) => 3 + itoa::Buffer::new().format(*n).len(),
        _ => 5,
    }
}

/// A connection's own side of pub/sub: what it is subscribed to and its mailbox.
pub struct ClientSubs {
    me: Arc<Subscriber>,
    sets: Subscriptions,
}

/// A client's channel, pattern and shard-channel names (by `Kind::index`):
/// boxed, and only while it has any, since most clients never subscribe
/// and three empty sets inline were 144 bytes of every connection.
#[derive(Default)]
struct Subscriptions(Option<Box<[HashSet<Bytes>; 3]>>);

impl Subscriptions {
    fn len(&self, index: usize) -> usize {
        self.0.as_ref().map_or(0, |sets| sets[index].len())
    }

    fn all(&self) -> &[HashSet<Bytes>] {
        self.0.as_deref().map_or(&[], |sets| sets.as_slice())
    }

    fn names(&self, index: usize) -> Vec<Bytes> {
        self.0
            .as_ref()
            .map_or_else(Vec::new, |sets| sets[index].iter().cloned().collect())
    }

    fn insert(&mut self, index: usize, name: Bytes) -> bool {
        self.0.get_or_insert_with(Default::default)[index].insert(name)
    }

    fn remove(&mut self, index: usize, name: &[u8]) -> bool {
        let Some(sets) = self.0.as_mut() else {
            return false;
        };
        let removed = sets[index].remove(name);
        if sets.iter().all(HashSet::is_empty) {
            self.0 = None;
        }
        removed
    }
}

impl ClientSubs {
    pub fn new(handle: Arc<ClientHandle>) -> ClientSubs {
        ClientSubs {
            me: Arc::new(Subscriber {
                handle,
                queue: Default::default(),
            }),
            sets: Default::default(),
        }
    }

    /// The client's mailbox, for pushes from outside pub/sub (MONITOR).
    pub fn mailbox(&self) -> Arc<Subscriber> {
        self.me.clone()
    }

    /// Channels plus patterns: the count SUBSCRIBE and PSUBSCRIBE report
    /// (Redis's `clientSubscriptionsCount`).
    fn count(&self) -> usize {
        self.sets.len(0) + self.sets.len(1)
    }

    fn count_of(&self, kind: Kind) -> usize {
        match kind {
            Kind::Shard => self.sets.len(2),
            _ => self.count(),
        }
    }

    /// What the subscriptions cost this client (Redis's
    /// `pubsubMemOverhead`): the slots of its sets (the names are shared
    /// with the server's maps).
    pub fn memory(&self) -> usize {
        self.sets
            .all()
            .iter()
            .map(|s| s.capacity() * (std::mem::size_of::<Bytes>() + 1))
            .sum()
    }

    /// Subscribed to anything at all: Redis's `CLIENT_PUBSUB` flag, which puts
    /// a RESP2 client in subscribed mode.
    pub fn active(&self) -> bool {
        self.sets.all().iter().any(|s| !s.is_empty())
    }

    /// The next push, waiting for one: woken by the client's doorbell, which
    /// the connection also listens to for a kill.
    pub async fn recv(&mut self) -> Reply {
        std::future::poll_fn(|cx| {
            if let Some(reply) = self.try_recv() {
                return Poll::Ready(reply);
            }
            self.me.handle.doorbell.listen(cx);
            self.try_recv().map_or(Poll::Pending, Poll::Ready)
        })
        .await
    }

    /// The next push if one is waiting. `pending` grows before a push is
    /// queued, so while it is 0 the mailbox is empty: the common case costs
    /// one load.
    pub fn try_recv(&mut self) -> Option<Reply> {
        if self.me.handle.mailbox_bytes.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let mut queue = self.me.queue();
        let reply = queue.pop_front()?;
        if queue.is_empty() && queue.capacity() > MAILBOX_KEPT {
            // A burst's room goes once it is taken, as Redis frees the
            // reply blocks it wrote: invalidations of many evicted keys
            // left kilobytes per tracking client counted in `used_memory`.
            *queue = std::collections::VecDeque::new();
        }
        drop(queue);
        self.taken(&reply);
        Some(reply)
    }

    fn taken(&self, reply: &Reply) {
        self.me
            .handle
            .mailbox_bytes
            .fetch_sub(resp_len(reply), Ordering::Relaxed);
    }

    /// Checks the output buffer limit once a second, as Redis's `clientsCron`
    /// does, so a subscriber that stays over the soft limit is closed when its
    /// time is up even if nothing more is published. Never completes.
    pub fn limit_watchdog(&self, pubsub: &PubSub) -> impl Future<Output = ()> + 'static {
        let me = self.me.clone();
        let config = pubsub.config.clone();
        async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let used = me.handle.mailbox_bytes.load(Ordering::Relaxed);
                if used > 0 {
                    me.check_limit(used, config.client_output_buffer_limits()[2]);
                }
            }
        }
    }

    /// The `sub=`, `psub=` and `ssub=` counts for CLIENT LIST.
    fn publish_counts(&self) {
        let mut info = self.me.handle.info();
        let count = |index| u32::try_from(self.sets.len(index)).unwrap_or(u32::MAX);
        info.subscriptions = [count(0), count(1), count(2)];
    }
}

type Subscribers = HashMap<Bytes, Vec<Arc<Subscriber>>>;

/// The server-wide registry: channel, pattern and shard channel to subscribers.
pub struct PubSub {
    config: Arc<Config>,
    maps: Mutex<[Subscribers; 3]>,
}

impl PubSub {
    pub fn new(config: Arc<Config>) -> PubSub {
        PubSub {
            config,
            maps: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, [Subscribers; 3]> {
        self.maps.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn limit(&self) -> OutputBufferLimit {
        self.config.client_output_buffer_limits()[2]
    }

    /// SUBSCRIBE / PSUBSCRIBE / SSUBSCRIBE: Redis's `pubsubSubscribeChannel`
    /// for each name, confirming each (repeats included) with the new count.
    pub fn subscribe(&self, client: &mut ClientSubs, kind: Kind, names: &[&[u8]]) {
        let limit = self.limit();
        let mut maps = self.lock();
        for name in names {
            let name = Bytes::copy_from_slice(name);
            if client.sets.insert(kind.index(), name.clone()) {
                maps[kind.index()]
                    .entry(name.clone())
                    .or_default()
                    .push(client.me.clone());
            }
            let reply = confirmation(kind.subscribe_name(), Some(&name), client.count_of(kind));
            client.me.push(reply, limit);
        }
        drop(maps);
        client.publish_counts();
    }

    /// Client `id`'s subscriptions of each kind (channels, patterns, shard
    /// channels): for ACL SETUSER, which drops subscribers that lost them.
    pub fn subscriptions_of(&self, id: u64) -> [Vec<Bytes>; 3] {
        let maps = self.lock();
        let mut found: [Vec<Bytes>; 3] = Default::default();
        for (names, map) in found.iter_mut().zip(maps.iter()) {
            for (name, subscribers) in map {
                if subscribers.iter().any(|s| s.handle.id == id) {
                    names.push(name.clone());
                }
            }
        }
        found
    }

    /// UNSUBSCRIBE / PUNSUBSCRIBE / SUNSUBSCRIBE with names: each is confirmed
    /// whether or not the client was subscribed to it.
    pub fn unsubscribe(&self, client: &mut ClientSubs, kind: Kind, names: &[&[u8]]) {
        let limit = self.limit();
        let mut maps = self.lock();
        for name in names {
            remove(&mut maps, client, kind, name);
            let reply = confirmation(kind.unsubscribe_name(), Some(name), client.count_of(kind));
            client.me.push(reply, limit);
        }
        drop(maps);
        client.publish_counts();
    }

    /// The same without names: every subscription of the kind, or a single
    /// confirmation with a null name when there is none
    /// (Redis's `pubsubUnsubscribeAllChannels` with `notify`).
    pub fn unsubscribe_all(&self, client: &mut ClientSubs, kind: Kind, notify: bool) {
        let limit = self.limit();
        let mut maps = self.lock();
        let names = client.sets.names(kind.index());
        for name in &names {
            remove(&mut maps, client, kind, name);
            if notify {
                let reply =
                    confirmation(kind.unsubscribe_name(), Some(name), client.count_of(kind));
                client.me.push(reply, limit);
            }
        }
        if notify && names.is_empty() {
            let reply = confirmation(kind.unsubscribe_name(), None, client.count_of(kind));
            client.me.push(reply, limit);
        }
        drop(maps);
        client.publish_counts();
    }

    /// Leaves everything silently: RESET and disconnection.
    pub fn leave(&self, client: &mut ClientSubs) {
        for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
            self.unsubscribe_all(client, kind, false);
        }
    }

    /// PUBLISH (`kind` Channel) or SPUBLISH (`kind` Shard): Redis's
    /// `pubsubPublishMessage`. Returns the number of receptions: channel
    /// subscribers plus, for PUBLISH, one per matching (pattern, client).
    pub fn publish(&self, kind: Kind, channel: &[u8], message: &[u8]) -> usize {
        let limit = self.limit();
        // Every reception shares one copy of the names and the message.
        let (channel, message) = (
            Bytes::copy_from_slice(channel),
            Bytes::copy_from_slice(message),
        );
        let maps = self.lock();
        let mut receivers = 0;
        if let Some(subs) = maps[kind.index()].get(&channel) {
            let name = if kind == Kind::Shard {
                "smessage"
            } else {
                "message"
            };
            let reply = Reply::Push(vec![
                Reply::bulk(name),
                Reply::Bulk(channel.clone()),
                Reply::Bulk(message.clone()),
            ]);
            for sub in subs {
                sub.push(reply.clone(), limit);
            }
            receivers += subs.len();
        }
        if kind == Kind::Channel {
            for (pattern, subs) in &maps[Kind::Pattern.index()] {
                if !glob_match(pattern, &channel, false) {
                    continue;
                }
                let reply = Reply::Push(vec![
                    Reply::bulk("pmessage"),
                    Reply::Bulk(pattern.clone()),
                    Reply::Bulk(channel.clone()),
                    Reply::Bulk(message.clone()),
                ]);
                for sub in subs {
                    sub.push(reply.clone(), limit);
                }
                receivers += subs.len();
            }
        }
        receivers
    }

    /// PUBSUB CHANNELS / SHARDCHANNELS: active names matching `pattern`.
    pub fn names(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<Bytes> {
        self.lock()[kind.index()]
            .keys()
            .filter(|name| pattern.is_none_or(|p| glob_match(p, name, false)))
            .cloned()
            .collect()
    }

    /// PUBSUB NUMSUB / SHARDNUMSUB: subscribers of one name.
    pub fn subscribers(&self, kind: Kind, name: &[u8]) -> usize {
        self.lock()[kind.index()].get(name).map_or(0, Vec::len)
    }

    /// Distinct names with subscribers: INFO `pubsub_channels`,
    /// `pubsub_patterns`, `pubsubshard_channels` and PUBSUB NUMPAT.
    pub fn len(&self, kind: Kind) -> usize {
        self.lock()[kind.index()].len()
    }
}

/// Keyspace events (Redis's `notifyKeyspaceEvent`), recorded by each unit's
/// effects record and published here when the unit ends.
impl EventSink for PubSub {
    fn flags(&self) -> u32 {
        self.config.notify_keyspace_events()
    }

    /// Publishes each event's name on `__keyspace@<db>__:<key>` (K) and its
    /// key on `__keyevent@<db>__:<event>` (E).
    fn publish(&self, events: Vec<Event>, flags: u32) {
        for event in events {
            let (db, name, key) = (event.db, event.name, &event.key[..]);
            if flags & notify::KEYSPACE != 0 {
                let mut channel = format!("__keyspace@{db}__:").into_bytes();
                channel.extend_from_slice(key);
                PubSub::publish(self, Kind::Channel, &channel, name.as_bytes());
            }
            if flags & notify::KEYEVENT != 0 {
                let channel = format!("__keyevent@{db}__:{name}");
                PubSub::publish(self, Kind::Channel, channel.as_bytes(), key);
            }
        }
    }
}

/// Takes `client` off `name`'s subscribers, dropping the name once nobody is left.
fn remove(maps: &mut [Subscribers; 3], client: &mut ClientSubs, kind: Kind, name: &[u8]) {
    if !client.sets.remove(kind.index(), name) {
        return;
    }
    let map = &mut maps[kind.index()];
    if let Some(subs) = map.get_mut(name) {
        subs.retain(|s| !Arc::ptr_eq(s, &client.me));
        if subs.is_empty() {
            map.remove(name);
        }
    }
}

/// `[subscribe|unsubscribe|..., name or null, count]`.
fn confirmation(what: &'static str, name: Option<&[u8]>, count: usize) -> Reply {
    Reply::Push(vec![
        Reply::bulk(what),
        name.map_or(Reply::Null, Reply::bulk_copy),
        Reply::from(count),
    ])
}
