/**
 * What a transport extracted from a request to authenticate it, as data: a
 * tagged union with one member per scheme, each authenticated by an
 * `Authenticator`. Transports build credentials; nothing else reads a
 * transport's headers.
 *
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { Unauthenticated } from "./AuthError.js"

/** A bearer token (RFC 6750), held `Redacted` so it is never logged. */
export interface Bearer {
  readonly _tag: "Bearer"
  readonly token: Redacted.Redacted<string>
}

/**
 * An API key (`ApiKey`), held `Redacted`: sent in a header of its own
 * (`x-api-key` by default) or as the `ApiKey` authorization scheme.
 *
 * @since 0.2.0
 */
export interface ApiKey {
  readonly _tag: "ApiKey"
  readonly key: Redacted.Redacted<string>
}

/**
 * The certificate a TLS peer presented (mTLS), as the TLS stack read it off
 * the socket: never from anything a client can set in a request.
 *
 * @since 0.2.0
 */
export interface PeerCertificate {
  readonly _tag: "PeerCertificate"
  /** Whether the TLS stack verified its chain against the server's trusted CAs, and its validity dates. */
  readonly verified: boolean
  /** Why not, when not: the TLS stack's code (`CERT_HAS_EXPIRED`, `UNABLE_TO_VERIFY_LEAF_SIGNATURE`, ...). */
  readonly problem: string | null
  /** Its subject alternative names of type URI (a SPIFFE ID, say) and DNS. */
  readonly uris: ReadonlyArray<string>
  readonly dnsNames: ReadonlyArray<string>
  /** SHA-256 fingerprint, as the TLS stack gives it. */
  readonly fingerprint256: string
}

/** Every kind of credential Warden authenticates. */
export type Credential = Bearer | ApiKey | PeerCertificate

/**
 * A peer certificate credential, from what a TLS socket reports.
 *
 * @since 0.2.0
 */
export const peerCertificate = (fields: Omit<PeerCertificate, "_tag">): PeerCertificate => ({
  _tag: "PeerCertificate",
  ...fields
})

/** What Warden reads of a TLS socket (Node's `TLSSocket`), structurally: core depends on no platform. */
export interface TlsSocketLike {
  readonly encrypted?: boolean
  readonly authorized?: boolean
  readonly authorizationError?: unknown
  readonly getPeerCertificate?: () => { readonly subjectaltname?: string; readonly fingerprint256?: string } | null
}

/**
 * The client certificate a TLS socket reports (the server asked for one), or
 * `undefined` when the connection is not TLS or the client sent none.
 *
 * @since 0.2.0
 */
export const fromTlsSocket = (socket: TlsSocketLike | null | undefined): PeerCertificate | undefined => {
  if (socket?.encrypted !== true || typeof socket.getPeerCertificate !== "function") return undefined
  const certificate = socket.getPeerCertificate()
  if (certificate === null || typeof certificate.fingerprint256 !== "string") return undefined
  const names = subjectAltNames(certificate.subjectaltname)
  return peerCertificate({
    verified: socket.authorized === true,
    problem: socket.authorized === true ? null : String(socket.authorizationError ?? "unverified"),
    uris: names.uris,
    dnsNames: names.dnsNames,
    fingerprint256: certificate.fingerprint256
  })
}

/** The socket of a platform request object (Node's `IncomingMessage`), when it has one. */
export const socketOf = (source: unknown): TlsSocketLike | undefined =>
  typeof source === "object" && source !== null ? (source as { readonly socket?: TlsSocketLike }).socket : undefined

/** The subject alternative names of a certificate's `subjectaltname` text (`URI:a, DNS:b`), by kind. */
export const subjectAltNames = (
  text: string | undefined
): { readonly uris: ReadonlyArray<string>; readonly dnsNames: ReadonlyArray<string> } => {
  const uris: Array<string> = []
  const dnsNames: Array<string> = []
  for (const entry of (text ?? "").split(", ")) {
    if (entry.startsWith("URI:")) uris.push(entry.slice(4))
    else if (entry.startsWith("DNS:")) dnsNames.push(entry.slice(4).toLowerCase())
  }
  return { uris, dnsNames }
}

/**
 * An API key credential.
 *
 * @since 0.2.0
 */
export const apiKey = (key: Redacted.Redacted<string> | string): ApiKey => ({
  _tag: "ApiKey",
  key: typeof key === "string" ? Redacted.make(key) : key
})

/**
 * A bearer token read off a request. The token is a private field: nothing
 * prints or serialises it; `token` gives it as `Redacted`, made when first
 * asked for, and `secretOf` reads it for an authenticator without making one.
 */
class BearerToken implements Bearer {
  readonly _tag = "Bearer"
  readonly #secret: string
  #redacted: Redacted.Redacted<string> | undefined
  /** What one authenticator remembered of this token, and which one. */
  #memoOwner: object | undefined
  #memo: unknown
  constructor(secret: string) {
    this.#secret = secret
  }
  static recall(credential: Bearer, owner: object): unknown {
    return #memoOwner in credential && credential.#memoOwner === owner ? credential.#memo : undefined
  }
  static remember(credential: Bearer, owner: object, value: unknown): void {
    if (#memoOwner in credential) {
      credential.#memoOwner = owner
      credential.#memo = value
    }
  }
  get token(): Redacted.Redacted<string> {
    return this.#redacted ??= Redacted.make(this.#secret)
  }
  static secretOf(credential: Bearer): string {
    return #secret in credential ? credential.#secret : Redacted.value(credential.token)
  }
  toString(): string {
    return "Bearer <redacted>"
  }
  toJSON(): unknown {
    return { _tag: "Bearer", token: "<redacted>" }
  }
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString()
  }
}

/** A bearer credential. */
export const bearer = (token: Redacted.Redacted<string> | string): Bearer =>
  new BearerToken(typeof token === "string" ? token : Redacted.value(token))

/**
 * The secret of a credential (a bearer token, an API key), for an
 * authenticator that compares or verifies it. Never log it.
 *
 * @since 0.2.0
 */
export const secretOf = (credential: Credential): string =>
  credential._tag === "Bearer" ?
    BearerToken.secretOf(credential) :
    credential._tag === "ApiKey" ?
    Redacted.value(credential.key) :
    credential.fingerprint256

/**
 * What `owner` (an authenticator) remembered of this bearer credential with
 * `remember`, or `undefined`. A transport hands the same credential object for
 * a header it parsed lately (`fromAuthorization`), so an authenticator can
 * find its verified answer on the credential itself, without a lookup by the
 * token's text. One authenticator's memo at a time: another one's replaces
 * it. Whatever is remembered must still be checked for what can change
 * (expiry, keys, revocation) each time it is used.
 *
 * @since 0.3.0
 */
export const recall = (credential: Bearer, owner: object): unknown => BearerToken.recall(credential, owner)

/**
 * Remembers `value` for `owner` on a bearer credential made by `bearer` (a
 * credential made otherwise keeps nothing). See `recall`.
 *
 * @since 0.3.0
 */
export const remember = (credential: Bearer, owner: object, value: unknown): void =>
  BearerToken.remember(credential, owner, value)

/**
 * The refusal of an authenticator for credentials of a kind it does not
 * accept.
 *
 * @since 0.2.0
 */
export const unsupported = (credential: Credential): Unauthenticated =>
  Unauthenticated.of(
    "unsupported_credential",
    credential._tag === "ApiKey" ?
      "API keys are not accepted here" :
      credential._tag === "PeerCertificate" ?
      "client certificates are not accepted here" :
      "bearer tokens are not accepted here"
  )

/** Longest authorization header accepted; longer is refused before any parsing. */
export const maxAuthorizationLength = 16 * 1024

// RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token; b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
const bearerPattern = /^[Bb][Ee][Aa][Rr][Ee][Rr] +[A-Za-z0-9\-._~+/]+=*$/

const malformed = (description: string) => Either.left(Unauthenticated.of("malformed_header", description))

/**
 * Header values parsed lately, and their credential: a caller sends the same
 * header again and again. Keyed by the value's last 32 characters (the end
 * of a token's signature) so a lookup hashes 32 characters, not the whole
 * header; an entry is used only when its whole value is the one sent.
 */
const recentHeaders = new Map<string, { readonly value: string; readonly parsed: Either.Either<Bearer, never> }>()
const maxRecentHeaders = 1024
const fingerprint = (value: string): string => value.slice(-32)

/**
 * Parses one `authorization` header value strictly (RFC 6750 §2.1): the
 * `Bearer` scheme in any case, spaces, one b64token, nothing else. Anything
 * else is `invalid_request` (`malformed_header`); the token never appears in
 * an error. A value parsed lately (one of the last 1,024 well-formed ones)
 * gives the same credential again without a second parse.
 */
export const fromAuthorization = (value: string): Either.Either<Bearer, Unauthenticated> => {
  const known = recentHeaders.get(fingerprint(value))
  if (known !== undefined && known.value === value) return known.parsed
  if (value.length > maxAuthorizationLength) {
    return malformed(`the authorization header is longer than ${maxAuthorizationLength} characters`)
  }
  if (!bearerPattern.test(value)) {
    if (!/^[Bb][Ee][Aa][Rr][Ee][Rr](\s|$)/.test(value)) {
      return malformed("the authorization header must use the Bearer scheme (or ApiKey, where API keys are accepted)")
    }
    return value.includes(",") ?
      malformed("the authorization header must carry exactly one bearer token") :
      malformed("the authorization header must be 'Bearer' followed by one token of the RFC 6750 b64token characters")
  }
  // The pattern held: the token is what follows the scheme and its spaces.
  let start = 6
  while (value.charCodeAt(start) === 0x20) start++
  const parsed = Either.right(bearer(value.slice(start)))
  // Emptied when full: a stream of new tokens costs one parse each, as without the table.
  if (recentHeaders.size >= maxRecentHeaders) recentHeaders.clear()
  recentHeaders.set(fingerprint(value), { value, parsed })
  return parsed
}

/** The header an API key is sent in by default. */
export const apiKeyHeader = "x-api-key"

/**
 * The header API keys are read from and sent in: `x-api-key` unless
 * `layerApiKeyHeader` names another. Read by both transports and by
 * outbound clients from the services of the request or call.
 *
 * @since 0.2.0
 */
export class ApiKeyHeader extends Context.Reference<ApiKeyHeader>()("@warden/core/ApiKeyHeader", {
  defaultValue: (): string => apiKeyHeader
}) {}

/** A header name that is not an HTTP token (RFC 9110 §5.1), or one Warden reads for something else. */
export class InvalidHeaderName extends Data.TaggedError("InvalidHeaderName")<{ readonly message: string }> {}

/**
 * Reads and sends API keys in `name` instead of `x-api-key`.
 *
 * @since 0.2.0
 */
export const layerApiKeyHeader = (name: string): Layer.Layer<ApiKeyHeader, InvalidHeaderName> => {
  const lower = name.toLowerCase()
  return /^[a-z0-9!#$%&'*+\-.^_`|~]{1,64}$/.test(lower) && lower !== "authorization" && lower !== "x-tenant" ?
    Layer.succeed(ApiKeyHeader, lower) :
    Layer.fail(
      new InvalidHeaderName({ message: `'${name}' cannot carry API keys: it must be a header name of its own` })
    )
}

// An API key's text: printable, no spaces, no commas, at most 256 characters.
const apiKeyPattern = /^[A-Za-z0-9\-._~+/=]{1,256}$/
const apiKeySchemePattern = /^[Aa][Pp][Ii][Kk][Ee][Yy] +([A-Za-z0-9\-._~+/=]{1,256})$/

/**
 * Parses an API key header value strictly: one key of up to 256 characters
 * (letters, digits, `-._~+/=`), nothing else; anything else is
 * `invalid_request` (`malformed_header`). The value never appears in an error.
 *
 * @since 0.2.0
 */
export const fromApiKey = (value: string, header: string = apiKeyHeader): Either.Either<ApiKey, Unauthenticated> =>
  apiKeyPattern.test(value) ?
    Either.right(apiKey(value)) :
    malformed(`the ${header} header must be one API key of at most 256 characters`)

/**
 * The credentials of a request from its `authorization` and API key header
 * values (either may be absent; `header` names the API key header in
 * messages): both present is `conflicting_credentials`,
 * neither is `missing_credentials`. `authorization` takes the `Bearer`
 * scheme (RFC 6750) or the `ApiKey` scheme.
 *
 * @since 0.2.0
 */
export const fromHeaderValues = (
  authorization: string | undefined,
  key: string | undefined,
  header: string = apiKeyHeader
): Either.Either<Credential, Unauthenticated> => {
  if (authorization !== undefined && key !== undefined) {
    return Either.left(
      Unauthenticated.of(
        "conflicting_credentials",
        `the request carries both an authorization header and an ${header} header; send one`
      )
    )
  }
  if (key !== undefined) return fromApiKey(key, header)
  if (authorization === undefined) return Either.left(missing)
  const scheme = apiKeySchemePattern.exec(authorization)
  if (scheme !== null) return Either.right(apiKey(scheme[1]!))
  return fromAuthorization(authorization)
}

/** The refusal for a request that carries no credentials: no RFC 6750 error code. */
export const missing: Unauthenticated = Unauthenticated.of("missing_credentials", "the request carries no credentials")
