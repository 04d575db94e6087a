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

type Read<A> = Either.Either<A, Unauthenticated>

const bad = (description: string): Read<never> => Either.left(Unauthenticated.of("claims", description))

/** An optional string claim: absent, or a string. */
const optionalString = (claims: Readonly<Record<string, unknown>>, name: string): Read<string | undefined> => {
  const value = claims[name]
  return value === undefined || typeof value === "string" ?
    Either.right(value) :
    bad(`the token's '${name}' claim must be a string, not ${typeOf(value)}`)
}

/** An array-of-strings claim: absent is empty. */
const optionalStrings = (
  claims: Readonly<Record<string, unknown>>,
  name: string | null
): Read<ReadonlyArray<string>> => {
  if (name === null || claims[name] === undefined) return Either.right([])
  const array = stringArray(claims[name])
  return array === undefined ?
    bad(`the token's '${name}' claim must be an array of strings, not ${typeOf(claims[name])}`) :
    Either.right(array)
}

/**
 * Reads a principal from claims that were already verified. `issuer` is used
 * when the claims carry no `iss` (introspection responses may omit it).
 */
export const toPrincipal = (
  claims: Readonly<Record<string, unknown>>,
  options: Mapping & { readonly authenticatedBy: Principal.AuthMethod; readonly issuer?: string }
): Either.Either<Principal.Principal, Unauthenticated> => {
  const iss = optionalString(claims, "iss")
  if (Either.isLeft(iss)) return Either.left(iss.left)
  const sub = optionalString(claims, "sub")
  if (Either.isLeft(sub)) return Either.left(sub.left)
  const clientIdClaim = claims["client_id"] === undefined && claims["azp"] !== undefined ? "azp" : "client_id"
  const clientId = optionalString(claims, clientIdClaim)
  if (Either.isLeft(clientId)) return Either.left(clientId.left)
  const jti = optionalString(claims, "jti")
  if (Either.isLeft(jti)) return Either.left(jti.left)
  if (jti.right !== undefined && (jti.right.length === 0 || jti.right.length > 256)) {
    return bad("the token's 'jti' claim must be 1 to 256 characters")
  }
  const exp = claims["exp"]
  if (exp !== undefined && (typeof exp !== "number" || !Number.isFinite(exp))) {
    return bad(`the token's 'exp' claim must be a number, not ${typeOf(exp)}`)
  }
  const scope = optionalString(claims, "scope")
  if (Either.isLeft(scope)) return Either.left(scope.left)

  const tenantClaim = options.tenantClaim ?? "tid"
  let tenant = claims[tenantClaim]
  if (tenant === undefined && options.tenantWhenMissing !== undefined) {
    const { byClient, byIssuer } = options.tenantWhenMissing
    const client = clientId.right
    const issuer = iss.right ?? options.issuer
    tenant = (client !== undefined && byClient !== undefined && Object.hasOwn(byClient, client) ?
      byClient[client] :
      undefined) ??
      (issuer !== undefined && byIssuer !== undefined && Object.hasOwn(byIssuer, issuer) ? byIssuer[issuer] : undefined)
  }
  const tenantIssue = tenantProblem(tenant)
  if (tenantIssue !== undefined) return bad(`the token's '${tenantClaim}' claim (its tenant) ${tenantIssue}`)
  const tenantsClaim = options.tenantsClaim ?? "tenants"
  const listed = optionalStrings(claims, tenantsClaim)
  if (Either.isLeft(listed)) return Either.left(listed.left)
  for (let i = 0; i < listed.right.length; i++) {
    const issue = Tenant.problem(listed.right[i]!)
    if (issue !== undefined) return bad(`entry ${i} of the token's '${tenantsClaim}' claim ${issue}`)
  }

  let scopes = Scopes.empty
  if (scope.right !== undefined) {
    const known = scopesByString.get(scope.right)
    if (known !== undefined) {
      scopes = known
    } else {
      const parsed = Scopes.parse(scope.right)
      if (Either.isLeft(parsed)) return bad(`the token's 'scope' claim is malformed: ${parsed.left.message}`)
      scopes = scopesByString.set(scope.right, parsed.right)
    }
  }
  if (options.scopeArrayClaim !== undefined && claims[options.scopeArrayClaim] !== undefined) {
    const array = optionalStrings(claims, options.scopeArrayClaim)
    if (Either.isLeft(array)) return Either.left(array.left)
    const parsed = Scopes.fromTokens([...scopes.tokens, ...array.right])
    if (Either.isLeft(parsed)) {
      return bad(`the token's '${options.scopeArrayClaim}' claim is malformed: ${parsed.left.message}`)
    }
    scopes = parsed.right
  }

  const permissionsClaim = options.permissionsClaim === undefined ? defaultPermissionsClaim : options.permissionsClaim
  const denyClaim = options.denyClaim === undefined ? defaultDenyClaim : options.denyClaim
  const allow = optionalStrings(claims, permissionsClaim)
  if (Either.isLeft(allow)) return Either.left(allow.left)
  const deny = optionalStrings(claims, denyClaim)
  if (Either.isLeft(deny)) return Either.left(deny.left)
  const grants = grantsOf(allow.right, deny.right)
  if (typeof grants === "number") {
    return bad(
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
    if (typeof actSub !== "string") return bad("the token's 'act' claim must be an object naming its actor in 'sub'")
    const actorIssue = Principal.idProblem(actSub)
    if (actorIssue !== undefined) return bad(`the token's 'act' claim's 'sub' ${actorIssue}`)
    actor = Intern.string(actSub)
  }

  const issuer = iss.right ?? options.issuer
  if (issuer === undefined) return bad("the token names no issuer (no 'iss' claim)")
  const subject = sub.right ?? clientId.right
  if (subject === undefined) {
    return bad("the token names neither a subject ('sub') nor a client ('client_id' or 'azp')")
  }
  const subjectIssue = Principal.idProblem(subject)
  if (subjectIssue !== undefined) {
    return bad(`the token's '${sub.right === undefined ? clientIdClaim : "sub"}' claim ${subjectIssue}`)
  }
  if (clientId.right !== undefined) {
    const clientIssue = Principal.idProblem(clientId.right)
    if (clientIssue !== undefined) return bad(`the token's '${clientIdClaim}' claim ${clientIssue}`)
  }
  let declaredValue: unknown
  if (options.declared !== undefined) {
    const decoded = options.declared.decode(claims)
    if (Either.isLeft(decoded)) return Either.left(decoded.left)
    declaredValue = decoded.right
  }
  const tenants = tenantsOf(tenant as Tenant.TenantId, listed.right as ReadonlyArray<Tenant.TenantId>)
  // Every field was checked above: the principal is built without a second Schema pass.
  const principal = Principal.unsafeMake({
    kind: (options.isService ?? defaultIsService)(claims) ? "service" : "user",
    subject: Intern.string(subject as Principal.SubjectId),
    tenant: tenants[0]!,
    tenants,
    clientId: clientId.right === undefined ? null : Intern.string(clientId.right as Principal.ClientId),
    issuer: Intern.string(issuer),
    tokenId: jti.right ?? null,
    expiresAt: (exp as number | undefined) ?? null,
    issuedAt: typeof claims["iat"] === "number" ? claims["iat"] : null,
    actor,
    authenticatedBy: options.authenticatedBy,
    scopes,
    permissions: grants
  })
  if (options.declared !== undefined) declaredClaims.set(principal, { by: options.declared, value: declaredValue })
  return Either.right(principal)
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
  const key = listsKey(allow, deny)
  const known = grantsByClaims.get(key)
  if (known !== undefined) return known
  const malformed = deny.findIndex((rule) => Either.isLeft(Permission.validateGrant(rule)))
  return grantsByClaims.set(key, malformed === -1 ? { allow, deny } : malformed)
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
