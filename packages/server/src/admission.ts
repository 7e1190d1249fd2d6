import type { IncomingMessage } from 'node:http'
import type { BlockList } from 'node:net'
import { CloseCode, docNameError } from '@collab/protocol'
import type { Authenticate, AuthResult } from './auth.js'
import { tokenFromRequest } from './auth.js'
import type { ExceptionSink } from './exception-sink.js'
import type { RefusalReason } from './observer.js'
import { clientAddress, originAllowed } from './request-policy.js'

/** Why an upgrade or a connection is refused: an HTTP status before the upgrade, a close code after it. */
export interface Refusal {
  reason: RefusalReason
  /** HTTP status (before the upgrade) or close code (after it). */
  code: number
  message: string
}

/** The admission rules of one server. */
export interface AdmissionPolicy {
  allowedOrigins: ReadonlySet<string> | null
  trustedProxies: BlockList | null
  connectionsPerAddress: number
  authenticate: Authenticate | null
  /** How long the auth hook may take before the connection is refused with 4503 ([AU7]). */
  authTimeoutMs: number
  sink: ExceptionSink
}

/**
 * Who may open a connection, and to which document ([OR1], [DN1], [LM5], [AU1]): the checks of an upgrade request,
 * the count of connections per client address, and the auth hook, which runs inside the exception sink and within
 * a time limit.
 */
export class Admission {
  private readonly perAddress = new Map<string, number>()

  constructor(private readonly policy: AdmissionPolicy) {}

  /** The client address of a request (see request-policy.ts for trusted proxies). */
  addressOf(req: IncomingMessage): string {
    return clientAddress(req, this.policy.trustedProxies)
  }

  /**
   * The checks of an upgrade, made once the WebSocket is open: browsers cannot read the HTTP status of a refused
   * upgrade (a page sees only a failed connection, which its client retries forever), so these refusals are close
   * codes ([OR1], [DN1], [LM5]). The connection is closed before any message of the document is sent.
   */
  checkUpgrade(req: IncomingMessage, nameError: string | null, address: string): Refusal | null {
    const originRefusal = this.checkOrigin(req)
    if (originRefusal) return originRefusal
    if (nameError !== null) return { reason: 'name', code: CloseCode.UnknownDocument, message: nameError }
    if ((this.perAddress.get(address) ?? 0) >= this.policy.connectionsPerAddress) {
      return { reason: 'address', code: CloseCode.RateLimited, message: 'too many connections from this address' }
    }
    return null
  }

  /** The origin check alone ([OR1]): every request of an HTTP session passes it, not only the first ([HT10]). */
  checkOrigin(req: IncomingMessage): Refusal | null {
    if (originAllowed(req.headers.origin, req.headers.host, this.policy.allowedOrigins)) return null
    return { reason: 'origin', code: CloseCode.Forbidden, message: 'origin not allowed (--allowed-origins)' }
  }

  /** Counts an open connection of `address`. */
  opened(address: string): void {
    this.perAddress.set(address, (this.perAddress.get(address) ?? 0) + 1)
  }

  /** Uncounts a connection of `address`. */
  closed(address: string): void {
    const left = (this.perAddress.get(address) ?? 1) - 1
    if (left > 0) this.perAddress.set(address, left)
    else this.perAddress.delete(address)
  }

  /**
   * Runs the auth hook for a connection ([AU1]), with the token of its upgrade unless `token` is given (an HTTP
   * request's, [HT10]): its verdict, or a refusal when it threw, rejected or took longer
   * than `authTimeoutMs` (4503: the client retries later). Without a hook every connection may write.
   */
  async authenticate(
    req: IncomingMessage,
    docName: string,
    address: string,
    token: string | null = tokenFromRequest(req),
  ): Promise<AuthResult | Refusal> {
    const authenticate = this.policy.authenticate
    if (!authenticate) return { ok: true, access: 'write' }
    const request = { docName, token, remoteAddress: address, headers: req.headers }
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<Refusal>((resolve) => {
      timer = setTimeout(
        () => resolve({ reason: 'auth-timeout', code: CloseCode.RetryLater, message: 'authentication timed out' }),
        this.policy.authTimeoutMs,
      )
    })
    const verdict = Promise.resolve()
      .then(() => authenticate(request))
      .then(
        (result): AuthResult | Refusal => result,
        (err: unknown): Refusal => {
          this.policy.sink.report('authenticate', err, { doc: docName, remote: address })
          return { reason: 'auth-error', code: CloseCode.RetryLater, message: 'authentication unavailable' }
        },
      )
    try {
      return await Promise.race([verdict, timeout])
    } finally {
      clearTimeout(timer)
    }
  }
}

/** The document name of an upgrade URL: its path without the leading `/`, percent-decoded. */
export function docNameFromUrl(url: string): { name: string; error: string | null } {
  const path = url.split('?')[0] ?? ''
  let name: string
  try {
    name = decodeURIComponent(path.slice(1))
  } catch {
    return { name: '', error: 'document name is not valid percent-encoding' }
  }
  return { name, error: docNameError(name) }
}
