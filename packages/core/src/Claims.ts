/**
 * From verified claims to a `Principal`: the one mapping shared by every
 * authenticator (JWT verification, token introspection), so a tenant, a
 * subject or a scope means the same whichever way the token was checked.
 *
 * - The tenant claim (default `tid`) must be an exact tenant id string; a
 *   `tenants` claim, when present, must be an array of them.
 * - `scope` follows the RFC 6749 §3.3 grammar.
 * - Grants come from the `permissions` claim and denies from the `deny` claim
 *   by default (arrays of strings, either may be absent). A malformed grant
 *   grants nothing; a malformed deny refuses the whole credential, since
 *   dropping it would let a broader grant allow what it was meant to refuse.
 *
 * Anything else is `Unauthenticated` (`claims`), with a description naming the
 * claim and what is wrong with it, never its value.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { Forbidden, Unauthenticated } from "./AuthError.js"
import * as Intern from "./internal/intern.js"
import * as Permission from "./Permission.js"
import * as Principal from "./Principal.js"
import * as Scopes from "./Scopes.js"
import * as Tenant from "./Tenant.js"

/** How claims are read. Every field has a default. */
export interface Mapping {
  /** The claim naming the principal's tenant. Default `tid`. */
  readonly tenantClaim?: string
  /** The claim listing every tenant a multi-tenant principal may act in. Default `tenants`. */
  readonly tenantsClaim?: string
  /** Also read scopes from an array claim such as `scp`. */
  readonly scopeArrayClaim?: string
  /**
   * The array claim holding permission grants. Default `permissions`; `null`
   * reads none.
   *
   * @since 0.2.0
   */
  readonly permissionsClaim?: string | null
  /** The array claim holding permission denies. Default `deny`; `null` reads none. */
  readonly denyClaim?: string | null
  /**
   * Decides whether the claims describe a service rather than a user. Default:
   * no `sub`, or `sub` equal to the client (`client_id`, else `azp`): the
   * client-credentials shape. `services` has the rules providers need.
   */
  readonly isService?: (claims: Readonly<Record<string, unknown>>) => boolean
  /**
   * The tenant of a token that carries no tenant claim at all, by its client
   * (`client_id`, else `azp`) or its issuer, instead of refusing it. Only for
   * providers that cannot add a claim to machine tokens: every such token of
   * that client (or issuer) then acts for that tenant, so name clients rather
   * than a whole issuer where you can. A tenant claim that is present but
   * malformed is still refused.
   *
   * @since 0.2.0
   */
  /**
   * The extra claims the application reads (roles, email, organisation),
   * decoded at verification: a token whose declared claims do not decode is
   * refused (`claims`, naming the claim, never its value). Handlers read
   * them typed with the `Declared`'s `get`.
   *
   * @since 0.2.0
   */
  readonly declared?: Declared<unknown>
  readonly tenantWhenMissing?: {
    readonly byClient?: Readonly<Record<string, string>>
    readonly byIssuer?: Readonly<Record<string, string>>
  }
}

/** The client a token was issued to: `client_id` (RFC 9068), else `azp` (OIDC), when a string. */
const clientOf = (claims: Readonly<Record<string, unknown>>): string | undefined => {
  const id = claims["client_id"] ?? claims["azp"]
  return typeof id === "string" ? id : undefined
}

/**
 * Rules that recognise service principals, for `Mapping.isService`.
 *
 * @since 0.2.0
 * @example
 * ```ts
 * JwtVerifier.layer({ issuers, audience, isService: Claims.services.any(Claims.services.clientCredentials,
 *   Claims.services.auth0) })
 * ```
 */
export const services = {
  /** No `sub`, or `sub` equal to the client (`client_id`, else `azp`). The default. */
  clientCredentials: (claims: Readonly<Record<string, unknown>>): boolean =>
    claims["sub"] === undefined || (clientOf(claims) !== undefined && claims["sub"] === clientOf(claims)),
  /** Auth0's machine tokens: `gty` is `client-credentials`, or `sub` ends in `@clients`. */
  auth0: (claims: Readonly<Record<string, unknown>>): boolean =>
    claims["gty"] === "client-credentials" ||
    (typeof claims["sub"] === "string" && claims["sub"].endsWith("@clients")),
  /** A rule per issuer; tokens of an issuer without one follow `otherwise` (default `clientCredentials`). */
  byIssuer: (
    rules: Readonly<Record<string, (claims: Readonly<Record<string, unknown>>) => boolean>>,
    otherwise?: (claims: Readonly<Record<string, unknown>>) => boolean
  ) =>
  (claims: Readonly<Record<string, unknown>>): boolean => {
    const iss = claims["iss"]
    const rule = typeof iss === "string" && Object.hasOwn(rules, iss) ? rules[iss]! : undefined
    return (rule ?? otherwise ?? services.clientCredentials)(claims)
  },
  /** A service when any of the rules says so. */
  any:
    (...rules: ReadonlyArray<(claims: Readonly<Record<string, unknown>>) => boolean>) =>
    (claims: Readonly<Record<string, unknown>>): boolean => rules.some((rule) => rule(claims))
} as const

/**
 * The claims grants and denies are read from when the mapping names none.
 *
 * @since 0.2.0
 */
export const defaultPermissionsClaim = "permissions"

/** @since 0.2.0 */
export const defaultDenyClaim = "deny"

/** The default service test: no `sub`, or `sub` equal to the client (`client_id`, else `azp`). */
export const defaultIsService = (claims: Readonly<Record<string, unknown>>): boolean =>
  services.clientCredentials(claims)

/** The JSON type of a value, for error texts. */
const typeOf = (value: unknown): string =>
  value === null ? "null" : Array.isArray(value) ? "an array" : `a ${typeof value}`

/** What is wrong with a tenant claim's value, or `undefined`. */
const tenantProblem = (value: unknown): string | undefined =>
  value === undefined ?
    "is missing" :
    typeof value !== "string" ?
    `must be a string, not ${typeOf(value)}` :
    Tenant.problem(value)

const stringArray = (value: unknown): ReadonlyArray<string> | undefined =>
  Array.isArray(value) && value.every((v) => typeof v === "string") ? value : undefined

const refuse = (description: string): Unauthenticated => Unauthenticated.of("claims", description)

/** An optional string claim: absent, or a string; otherwise the refusal. */
const optionalString = (
  claims: Readonly<Record<string, unknown>>,
  name: string
): string | undefined | Unauthenticated => {
  const value = claims[name]
  return value === undefined || typeof value === "string" ?
    value :
    refuse(`the token's '${name}' claim must be a string, not ${typeOf(value)}`)
}

/** An array-of-strings claim: absent is empty; otherwise the refusal. */
const optionalStrings = (
  claims: Readonly<Record<string, unknown>>,
  name: string | null
): ReadonlyArray<string> | Unauthenticated => {
  if (name === null) return empty
  const value = claims[name]
  if (value === undefined) return empty
  return stringArray(value) ??
    refuse(`the token's '${name}' claim must be an array of strings, not ${typeOf(value)}`)
}

const empty: ReadonlyArray<string> = []

/**
 * Reads a principal from claims that were already verified. `issuer` is used
 * when the claims carry no `iss` (introspection responses may omit it).
 */
export const toPrincipal = (
  claims: Readonly<Record<string, unknown>>,
  options: Mapping & { readonly authenticatedBy: Principal.AuthMethod; readonly issuer?: string }
): Either.Either<Principal.Principal, Unauthenticated> => {
  const read = principalOf(claims, options)
  return read instanceof Unauthenticated ? Either.left(read) : Either.right(read)
}

/**
 * `toPrincipal` without the `Either`: the principal, or the refusal. What a
 * verifier calls on its synchronous path.
 *
 * @since 0.3.0
 */
export const principalOf = (
  claims: Readonly<Record<string, unknown>>,
  options: Mapping & { readonly authenticatedBy: Principal.AuthMethod; readonly issuer?: string }
): Principal.Principal | Unauthenticated => {
  const iss = optionalString(claims, "iss")
  if (typeof iss === "object") return iss
  const sub = optionalString(claims, "sub")
  if (typeof sub === "object") return sub
  const clientIdClaim = claims["client_id"] === undefined && claims["azp"] !== undefined ? "azp" : "client_id"
  const clientId = optionalString(claims, clientIdClaim)
  if (typeof clientId === "object") return clientId
  const jti = optionalString(claims, "jti")
  if (typeof jti === "object") return jti
  if (jti !== undefined && (jti.length === 0 || jti.length > 256)) {
    return refuse("the token's 'jti' claim must be 1 to 256 characters")
  }
  const exp = claims["exp"]
  if (exp !== undefined && (typeof exp !== "number" || !Number.isFinite(exp))) {
    return refuse(`the token's 'exp' claim must be a number, not ${typeOf(exp)}`)
  }
  const scope = optionalString(claims, "scope")
  if (typeof scope === "object") return scope

  const tenantClaim = options.tenantClaim ?? "tid"
  let tenant = claims[tenantClaim]
  if (tenant === undefined && options.tenantWhenMissing !== undefined) {
    const { byClient, byIssuer } = options.tenantWhenMissing
    const issuer = iss ?? options.issuer
    tenant = (clientId !== undefined && byClient !== undefined && Object.hasOwn(byClient, clientId) ?
      byClient[clientId] :
      undefined) ??
      (issuer !== undefined && byIssuer !== undefined && Object.hasOwn(byIssuer, issuer) ? byIssuer[issuer] : undefined)
  }
  const tenantIssue = tenantProblem(tenant)
  if (tenantIssue !== undefined) return refuse(`the token's '${tenantClaim}' claim (its tenant) ${tenantIssue}`)
  const tenantsClaim = options.tenantsClaim ?? "tenants"
  const listed = optionalStrings(claims, tenantsClaim)
  if (listed instanceof Unauthenticated) return listed
  for (let i = 0; i < listed.length; i++) {
    const issue = Tenant.problem(listed[i]!)
    if (issue !== undefined) return refuse(`entry ${i} of the token's '${tenantsClaim}' claim ${issue}`)
  }

  let scopes = Scopes.empty
  if (scope !== undefined) {
    const known = scopesByString.get(scope)
    if (known !== undefined) {
      scopes = known
    } else {
      const parsed = Scopes.parse(scope)
      if (Either.isLeft(parsed)) return refuse(`the token's 'scope' claim is malformed: ${parsed.left.message}`)
      scopes = scopesByString.set(scope, parsed.right)
    }
  }
  if (options.scopeArrayClaim !== undefined && claims[options.scopeArrayClaim] !== undefined) {
    const array = optionalStrings(claims, options.scopeArrayClaim)
    if (array instanceof Unauthenticated) return array
    const parsed = Scopes.fromTokens([...scopes.tokens, ...array])
    if (Either.isLeft(parsed)) {
      return refuse(`the token's '${options.scopeArrayClaim}' claim is malformed: ${parsed.left.message}`)
    }
    scopes = parsed.right
  }

  const permissionsClaim = options.permissionsClaim === undefined ? defaultPermissionsClaim : options.permissionsClaim
  const denyClaim = options.denyClaim === undefined ? defaultDenyClaim : options.denyClaim
  const allow = optionalStrings(claims, permissionsClaim)
  if (allow instanceof Unauthenticated) return allow
  const deny = optionalStrings(claims, denyClaim)
  if (deny instanceof Unauthenticated) return deny
  const grants = grantsOf(allow, deny)
  if (typeof grants === "number") {
    return refuse(
      `entry ${grants} of the token's '${denyClaim}' claim is not a valid deny rule, so the credential is ` +
        "refused rather than granted more than its issuer meant"
    )
  }

  // RFC 8693 §4.1: the current actor is the outermost `act`; nested ones acted before it.
  const act = claims["act"]
  let actor: string | null = null
  if (act !== undefined) {
    const actSub = typeof act === "object" && act !== null && !Array.isArray(act) ?
      (act as Record<string, unknown>)["sub"] :
      undefined
    if (typeof actSub !== "string") return refuse("the token's 'act' claim must be an object naming its actor in 'sub'")
    const actorIssue = Principal.idProblem(actSub)
    if (actorIssue !== undefined) return refuse(`the token's 'act' claim's 'sub' ${actorIssue}`)
    actor = Intern.string(actSub)
  }

  const issuer = iss ?? options.issuer
  if (issuer === undefined) return refuse("the token names no issuer (no 'iss' claim)")
  const subject = sub ?? clientId
  if (subject === undefined) {
    return refuse("the token names neither a subject ('sub') nor a client ('client_id' or 'azp')")
  }
  const subjectIssue = Principal.idProblem(subject)
  if (subjectIssue !== undefined) {
    return refuse(`the token's '${sub === undefined ? clientIdClaim : "sub"}' claim ${subjectIssue}`)
  }
  if (clientId !== undefined) {
    const clientIssue = Principal.idProblem(clientId)
    if (clientIssue !== undefined) return refuse(`the token's '${clientIdClaim}' claim ${clientIssue}`)
  }
  let declaredValue: unknown
  if (options.declared !== undefined) {
    const decoded = options.declared.decode(claims)
    if (Either.isLeft(decoded)) return decoded.left
    declaredValue = decoded.right
  }
  const tenants = tenantsOf(tenant as Tenant.TenantId, listed as ReadonlyArray<Tenant.TenantId>)
  // Every field was checked above: the principal is built without a second Schema pass.
  const principal = Principal.unsafeMake({
    kind: (options.isService ?? defaultIsService)(claims) ? "service" : "user",
    subject: Intern.string(subject as Principal.SubjectId),
    tenant: tenants[0]!,
    tenants,
    clientId: clientId === undefined ? null : Intern.string(clientId as Principal.ClientId),
    issuer: Intern.string(issuer),
    tokenId: jti ?? null,
    expiresAt: (exp as number | undefined) ?? null,
    issuedAt: typeof claims["iat"] === "number" ? claims["iat"] : null,
    actor,
    authenticatedBy: options.authenticatedBy,
    scopes,
    permissions: grants
  })
  if (options.declared !== undefined) declaredClaims.set(principal, { by: options.declared, value: declaredValue })
  return principal
}

/** The declared claims of each principal read with them, and which declaration read them. */
const declaredClaims = new WeakMap<Principal.Principal, { readonly by: Declared<unknown>; readonly value: unknown }>()

/**
 * Claims the application declares with a Schema, decoded when a token is
 * verified (configure the verifier with `declared`) and read typed from the
 * request's principal.
 *
 * @since 0.2.0
 * @example
 * ```ts
 * const Roles = Claims.declare("Roles", Schema.Struct({ roles: Schema.Array(Schema.String) }))
 * // JwtVerifier.layer({ issuers, audience, declared: Roles })
 * const handler = Effect.map(Roles.get, ({ roles }) => roles.includes("admin"))
 * const AdminOnly = Policy.claim(Roles, ({ roles }) => roles.includes("admin"), "role admin")
 * ```
 */
export interface Declared<A> {
  readonly name: string
  /** Decodes the declared claims out of a token's claims; a refusal names the claim, never its value. */
  readonly decode: (claims: Readonly<Record<string, unknown>>) => Either.Either<A, Unauthenticated>
  /** The principal's declared claims, when it was verified with this declaration. */
  readonly of: (principal: Principal.Principal) => Option.Option<A>
  /** The current request's declared claims; `Forbidden` (`claim`) when its principal was not read with them. */
  readonly get: Effect.Effect<A, Forbidden, Principal.CurrentUser>
}

/** Declares the claims `schema` decodes, under `name` (for messages). */
export const declare = <A, I>(name: string, schema: Schema.Schema<A, I>): Declared<A> => {
  const decodeEither = Schema.decodeUnknownEither(schema, { errors: "first" })
  const notRead = Forbidden.of("claim", `claims ${name}`, `the caller was not authenticated with ${name} claims`)
  const declared: Declared<A> = {
    name,
    decode: (claims) =>
      Either.mapLeft(decodeEither(claims), (error) => {
        const [issue] = ParseResult.ArrayFormatter.formatErrorSync(error)
        const path = issue === undefined || issue.path.length === 0 ? "" : ` '${issue.path.map(String).join(".")}'`
        return Unauthenticated.of("claims", `the token's declared claim${path} (${name}) is missing or malformed`)
      }),
    of: (principal) => {
      const entry = declaredClaims.get(principal)
      return entry !== undefined && entry.by === (declared as Declared<unknown>) ?
        Option.some(entry.value as A) :
        Option.none()
    },
    get: Effect.flatMap(Principal.CurrentUser, (principal) => {
      const found = declared.of(principal)
      return Option.isSome(found) ? Effect.succeed(found.value) : Effect.fail(notRead)
    })
  }
  return declared
}

/** Parsed scope strings, shared by every principal with the same `scope` claim. */
const scopesByString = new Intern.Table<Scopes.Scopes>(4096)

/** Checked grant lists, shared; a number is the index of the first malformed deny rule. */
const grantsByClaims = new Intern.Table<Permission.Grants | number>(4096)

/**
 * The grants of `allow` and `deny`, one object for every principal with the
 * same lists (so grants compile once per distinct list, `GrantSource`), or
 * the index of the first malformed deny rule.
 */
const grantsOf = (allow: ReadonlyArray<string>, deny: ReadonlyArray<string>): Permission.Grants | number => {
  if (allow.length === 0 && deny.length === 0) return Permission.none
  // The lists read lately, compared entry by entry: the common case (an issuer hands the same lists to many
  // tokens) costs a few string comparisons instead of building and hashing a key.
  for (let i = 0; i < recentGrants.length; i++) {
    const recent = recentGrants[i]!
    if (sameList(recent.allow, allow) && sameList(recent.deny, deny)) return recent.grants
  }
  const key = listsKey(allow, deny)
  let grants = grantsByClaims.get(key)
  if (grants === undefined) {
    const malformed = deny.findIndex((rule) => Either.isLeft(Permission.validateGrant(rule)))
    grants = grantsByClaims.set(key, malformed === -1 ? { allow, deny } : malformed)
  }
  if (recentGrants.length >= 4) recentGrants.pop()
  recentGrants.unshift({ allow, deny, grants })
  return grants
}

/** The last few lists `grantsOf` read, newest first, with what they gave. */
const recentGrants: Array<{
  readonly allow: ReadonlyArray<string>
  readonly deny: ReadonlyArray<string>
  readonly grants: Permission.Grants | number
}> = []

const sameList = (a: ReadonlyArray<string>, b: ReadonlyArray<string>): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/**
 * One key per pair of lists: the counts, then the entries one per line; JSON
 * when an entry holds a line break (only a malformed one can).
 */
const listsKey = (allow: ReadonlyArray<string>, deny: ReadonlyArray<string>): string => {
  for (const entry of allow) if (entry.includes("\n")) return JSON.stringify([allow, deny])
  for (const entry of deny) if (entry.includes("\n")) return JSON.stringify([allow, deny])
  return `${allow.length} ${deny.length}\n${allow.join("\n")}\n${deny.join("\n")}`
}

/** The tenants a principal signs, its own first, one array for every principal with the same tenants. */
const tenantsByClaims = new Intern.Table<ReadonlyArray<Tenant.TenantId>>(4096)

const tenantsOf = (
  own: Tenant.TenantId,
  listed: ReadonlyArray<Tenant.TenantId>
): ReadonlyArray<Tenant.TenantId> => {
  // Tenant ids hold no newline (`Tenant.problem`), so the joined list names one set of tenants.
  const key = listed.length === 0 ? own : `${own}\n${listed.join("\n")}`
  return tenantsByClaims.get(key) ??
    tenantsByClaims.set(key, listed.length === 0 ? [own] : [...new Set([own, ...listed])])
}
