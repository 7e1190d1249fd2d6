import { describe, expect, it } from 'vitest'
import { listeningUrl } from './listening.js'

const jsonLine = (fields: Record<string, unknown>) => `${JSON.stringify({ level: 30, time: 1, ...fields })}\n`

describe('listeningUrl', () => {
  it('reads the url field of the JSON line apps/server prints once it listens', () => {
    const output =
      jsonLine({ msg: 'AUTHENTICATION IS OFF: anyone can connect' }) +
      jsonLine({ msg: 'listening on http://127.0.0.1:4321', dataDir: '/tmp/x', url: 'http://127.0.0.1:4321' })
    expect(listeningUrl(output)).toBe('http://127.0.0.1:4321')
  })

  it('reads the plain line printed when the log level hides info lines', () => {
    expect(listeningUrl('listening on http://localhost:1234\n')).toBe('http://localhost:1234')
    expect(listeningUrl(['{"level":40,"msg":"slow"}', 'listening on http://127.0.0.1:80'])).toBe('http://127.0.0.1:80')
  })

  it('waits for the line to be complete', () => {
    expect(listeningUrl('listening on http://localhost:12')).toBeUndefined()
    expect(listeningUrl('{"msg":"listening on http://localhost:1234","url":"http://local')).toBeUndefined()
  })

  it('ignores other lines, also ones with a url field', () => {
    const output = `${jsonLine({ msg: 'proxy configured', url: 'http://upstream:1234' })}Debugger listening on ws://x\n`
    expect(listeningUrl(output)).toBeUndefined()
    expect(listeningUrl('listening on not a url\n')).toBeUndefined()
  })
})
