import type { DocRelay, RelayMembership, RelayPeer } from '../src/index.js'

interface Member {
  instanceId: string
  peer: RelayPeer
}

/**
 * Several instances' relays in one process, for engine tests: delivers on the next turn of the event loop (like a
 * network), can drop messages, and can make an instance vanish the way a dead one does.
 */
export class MemoryRelayHub {
  private readonly docs = new Map<string, Set<Member>>()
  /** While true, published messages are lost (what Redis pub/sub does during a disconnect). */
  dropping = false
  /** Messages published so far, by kind. */
  readonly published = { update: 0, awareness: 0, deleted: 0 }

  /** The relay of one instance. */
  relay(instanceId: string): DocRelay {
    return {
      instanceId,
      join: (docName, peer) => this.join(docName, { instanceId, peer }),
      publishDeleted: (docName) => {
        this.published.deleted++
        this.deliver(docName, instanceId, (member) => member.peer.deleted())
      },
    }
  }

  /** Instance `instanceId` dies: it stops relaying, and the others are told it is gone. */
  kill(instanceId: string): void {
    for (const members of this.docs.values()) {
      for (const member of members) if (member.instanceId === instanceId) members.delete(member)
      for (const member of members) member.peer.instanceGone(instanceId)
    }
  }

  /** Asks every membership of `docName` to reload from the store, as after a broker reconnect. */
  resyncAll(docName: string): void {
    for (const member of this.docs.get(docName) ?? []) member.peer.resync('test')
  }

  private join(docName: string, member: Member): RelayMembership {
    let members = this.docs.get(docName)
    if (!members) {
      members = new Set()
      this.docs.set(docName, members)
    }
    members.add(member)
    // A newcomer learns who is present at the other instances.
    for (const other of members) {
      if (other.instanceId === member.instanceId) continue
      const present = other.peer.localAwareness()
      if (present) setImmediate(() => member.peer.awareness(other.instanceId, present))
    }
    return {
      ready: Promise.resolve(),
      publishUpdate: (update) => {
        this.published.update++
        const copy = update.slice()
        this.deliver(docName, member.instanceId, (other) => other.peer.update(copy))
      },
      publishAwareness: (update) => {
        this.published.awareness++
        const copy = update.slice()
        this.deliver(docName, member.instanceId, (other) => other.peer.awareness(member.instanceId, copy))
      },
      leave: () => {
        members.delete(member)
      },
    }
  }

  private deliver(docName: string, from: string, send: (member: Member) => void): void {
    if (this.dropping) return
    setImmediate(() => {
      for (const member of this.docs.get(docName) ?? []) if (member.instanceId !== from) send(member)
    })
  }
}
