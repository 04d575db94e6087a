/**
 * From verified claims to a `Principal`: the one mapping shared by every
 * authenticator (JWT verification, token introspection), so a tenant, a
 * subject or a scope means the same whichever way the token was checked.
 *
 * The tenant claim (default `tid`) must be an exact tenant id string; a
 * `tenants` claim, when present, must be an array of them; `scope` follows the
 * RFC 6749 §3.3 grammar. Anything else is `Unauthenticated` (`claims`).
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { Unauthenticated } from "./AuthError.js"
import { Principal } from "./Principal.js"
import type { AuthMethod } from "./Principal.js"
import * as Scopes from "./Scopes.js"
import { TenantId } from "./Tenant.js"

/** How claims are read. Every field has a default. */
export interface Mapping {
  /** The claim naming the principal's tenant. Default `tid`. */
  readonly tenantClaim?: string
  /** The claim listing every tenant a multi-tenant principal may act in. Default `tenants`. */
  readonly tenantsClaim?: string
  /** Also read scopes from an array claim such as `scp`. */
  readonly scopeArrayClaim?: string
  /** Read permission grants from this array claim (and denies from `denyClaim`). */
  readonly permissionsClaim?: string
  readonly denyClaim?: string
  /**
   * Decides whether the claims describe a service rather than a user. Default:
   * no `sub`, or `sub` equal to `client_id` (the client-credentials shape).
   */
  readonly isService?: (claims: Readonly<Record<string, unknown>>) => boolean
}

const Registered = Schema.Struct({
  iss: Schema.optional(Schema.String),
  sub: Schema.optional(Schema.String),
  client_id: Schema.optional(Schema.String),
  jti: Schema.optional(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(256))),
  exp: Schema.optional(Schema.Number),
  scope: Schema.optional(Schema.String)
})

const decodeRegistered = Schema.decodeUnknownEither(Registered)
const decodePrincipal = Schema.decodeUnknownEither(Principal)
const decodeTenant = Schema.decodeUnknownOption(TenantId)

const stringArray = (value: unknown): ReadonlyArray<string> | undefined =>
  Array.isArray(value) && value.every((v) => typeof v === "string") ? value : undefined

/** The default service test: no `sub`, or `sub` equal to `client_id`. */
export const defaultIsService = (claims: Readonly<Record<string, unknown>>): boolean =>
  claims["sub"] === undefined || (claims["client_id"] !== undefined && claims["sub"] === claims["client_id"])

/**
 * Reads a principal from claims that were already verified. `issuer` is used
 * when the claims carry no `iss` (introspection responses may omit it).
 */
export const toPrincipal = (
  claims: Readonly<Record<string, unknown>>,
  options: Mapping & { readonly authenticatedBy: AuthMethod; readonly issuer?: string }
): Either.Either<Principal, Unauthenticated> => {
  const bad = (description: string) => Either.left(Unauthenticated.of("claims", description))
  const base = decodeRegistered(claims)
  if (Either.isLeft(base)) return bad("the token's iss, sub, client_id, jti, exp or scope claim is malformed")
  const tenantClaim = options.tenantClaim ?? "tid"
  const tenantsClaim = options.tenantsClaim ?? "tenants"
  const tenant = decodeTenant(claims[tenantClaim])
  if (Option.isNone(tenant)) return bad(`the token has no valid '${tenantClaim}' claim (a tenant id string)`)
  const listed = claims[tenantsClaim]
  const tenants = listed === undefined ? [] : stringArray(listed)
  if (tenants === undefined || !tenants.every((t) => Option.isSome(decodeTenant(t)))) {
    return bad(`the token's '${tenantsClaim}' claim is not an array of tenant ids`)
  }
  let scopes = Scopes.empty
  if (base.right.scope !== undefined) {
    const parsed = Scopes.parse(base.right.scope)
    if (Either.isLeft(parsed)) return bad(`the token's scope claim is malformed: ${parsed.left.message}`)
    scopes = parsed.right
  }
  if (options.scopeArrayClaim !== undefined && claims[options.scopeArrayClaim] !== undefined) {
    const array = stringArray(claims[options.scopeArrayClaim])
    const parsed = array === undefined ? undefined : Scopes.fromTokens([...scopes.tokens, ...array])
    if (parsed === undefined || Either.isLeft(parsed)) {
      return bad(`the token's '${options.scopeArrayClaim}' claim is not an array of scope-tokens`)
    }
    scopes = parsed.right
  }
  // Absent is no grants; present must be an array of strings (null included: malformed, as for `tenants`).
  const grants = (claim: string | undefined) =>
    claim === undefined || claims[claim] === undefined ? [] : stringArray(claims[claim])
  const allow = grants(options.permissionsClaim)
  const deny = grants(options.denyClaim)
  if (allow === undefined || deny === undefined) return bad("the token's permission claims are not string arrays")
  const issuer = base.right.iss ?? options.issuer
  if (issuer === undefined) return bad("the token names no issuer")
  const subject = base.right.sub ?? base.right.client_id
  if (subject === undefined) return bad("the token names neither a subject nor a client")
  const principal = decodePrincipal({
    kind: (options.isService ?? defaultIsService)(claims) ? "service" : "user",
    subject,
    tenant: tenant.value,
    tenants: [...new Set([tenant.value, ...tenants])],
    clientId: base.right.client_id ?? null,
    issuer,
    tokenId: base.right.jti ?? null,
    expiresAt: base.right.exp ?? null,
    authenticatedBy: options.authenticatedBy,
    scopes: scopes.tokens,
    permissions: { allow, deny }
  })
  return Either.mapLeft(principal, () => Unauthenticated.of("claims", "the token's subject or client id is malformed"))
}
