import { describe, expect, it } from 'vitest'
import { SaveAccounting } from '../src/save-accounting.js'

/** Accounting after `count` update messages, each carrying a local change, on a fresh connection. */
function afterUpdates(count: number): SaveAccounting {
  const saves = new SaveAccounting()
  for (let i = 0; i < count; i++) saves.updateSent()
  return saves
}

describe('SaveAccounting', () => {
  it('[SA1] has nothing unsaved before any local change, and a sync step 2 without local changes adds none', () => {
    const saves = new SaveAccounting()
    expect(saves.unsaved).toBe(false)
    saves.syncStep2Sent()
    expect(saves.unsaved).toBe(false)
  })

  it('[SA1] a local change is unsaved until the count of the message that carried it is acknowledged', () => {
    const saves = new SaveAccounting()
    saves.syncStep2Sent()
    saves.updateSent()
    expect(saves.unsaved).toBe(true)
    saves.savedReceived(1)
    expect(saves.unsaved).toBe(true)
    saves.savedReceived(2)
    expect(saves.unsaved).toBe(false)
  })

  it('[SA1] one coalesced acknowledgement covers every message up to its count', () => {
    const saves = afterUpdates(3)
    saves.savedReceived(2)
    expect(saves.unsaved).toBe(true)
    saves.savedReceived(3)
    expect(saves.unsaved).toBe(false)
  })

  it('[SA1] acknowledgements only grow: a lower or repeated count changes nothing', () => {
    const saves = afterUpdates(2)
    saves.savedReceived(2)
    saves.savedReceived(1)
    expect(saves.unsaved).toBe(false)
    saves.savedReceived(2)
    expect(saves.unsaved).toBe(false)
    saves.updateSent()
    saves.savedReceived(1)
    expect(saves.unsaved).toBe(true)
    saves.savedReceived(3)
    expect(saves.unsaved).toBe(false)
  })

  it('[SA1] ignores (does not clamp) a saved count above the messages sent on this connection', () => {
    const saves = afterUpdates(1)
    saves.savedReceived(5)
    // Clamped, this would say the change in message 1 is stored.
    expect(saves.unsaved).toBe(true)
    // Kept as the high-water mark, this would say message 2 is stored before it is acknowledged.
    saves.updateSent()
    expect(saves.unsaved).toBe(true)
    saves.savedReceived(2)
    expect(saves.unsaved).toBe(false)
  })

  it('[SA1] a change made without a connection rides in the next sync step 2 and is saved with it', () => {
    const saves = new SaveAccounting()
    saves.changeNotSent()
    expect(saves.unsaved).toBe(true)
    saves.syncStep2Sent()
    expect(saves.unsaved).toBe(true)
    saves.savedReceived(1)
    expect(saves.unsaved).toBe(false)
  })

  it('[SA1] a new connection numbers its document messages from 1 again', () => {
    const saves = afterUpdates(3)
    saves.savedReceived(3)
    saves.connectionClosed()
    expect(saves.unsaved).toBe(false)
    saves.updateSent()
    // Message 2 of the new connection was never sent: its count is ignored.
    saves.savedReceived(2)
    expect(saves.unsaved).toBe(true)
    saves.savedReceived(1)
    expect(saves.unsaved).toBe(false)
  })

  it('[DU3] what the old connection did not get acknowledged stays unsaved until the new one acknowledges its sync step 2', () => {
    const saves = afterUpdates(3)
    saves.savedReceived(2)
    saves.connectionClosed()
    expect(saves.unsaved).toBe(true)
    // On the new connection a fresh change goes out as message 1 before the server's sync step 1 arrives; the
    // change the old connection lost rides in the sync step 2, message 2.
    saves.updateSent()
    saves.syncStep2Sent()
    saves.savedReceived(1)
    expect(saves.unsaved).toBe(true)
    saves.savedReceived(2)
    expect(saves.unsaved).toBe(false)
  })

  it('[DU3] a connection that closes before its sync step 2 is sent passes the unsent changes on', () => {
    const saves = new SaveAccounting()
    saves.changeNotSent()
    saves.connectionClosed()
    saves.syncStep2Sent()
    expect(saves.unsaved).toBe(true)
    saves.savedReceived(1)
    expect(saves.unsaved).toBe(false)
  })

  it('[SY4] a change behind a held acknowledgement is saved once the answering sync step 2 is acknowledged', () => {
    // Message 2 lacked dependencies on the server: it acknowledges 1 and asks with sync step 1.
    const saves = afterUpdates(2)
    saves.savedReceived(1)
    expect(saves.unsaved).toBe(true)
    // Our answer (message 3) carries no new local change, yet its acknowledgement covers message 2.
    saves.syncStep2Sent()
    expect(saves.unsaved).toBe(true)
    saves.savedReceived(3)
    expect(saves.unsaved).toBe(false)
  })

  it('[SA1] for a server without acknowledgements, what was sent counts as saved, and what was not does not', () => {
    const saves = afterUpdates(2)
    saves.acknowledgeAllSent()
    expect(saves.unsaved).toBe(false)
    saves.changeNotSent()
    saves.acknowledgeAllSent()
    expect(saves.unsaved).toBe(true)
  })
})
