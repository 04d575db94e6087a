/**
 * fast-check arbitraries (through `effect/FastCheck` and Schema's
 * `Arbitrary`) for Warden's domain: tenants, subjects, principals, scopes,
 * permissions and grants, claim sets, and tokens as `TokenRecipe`s (valid,
 * hostile, re-encoded).
 *
 * Realistic values are mixed with whatever the schemas allow, so that pairs
 * collide often enough to matter (two principals of one tenant, a grant that
 * covers the permission asked for) while edge cases still appear. Arbitraries
 * that take a vocabulary (`scopes({ from })`, `grants({ from })`) draw from
 * the application's own names, so properties hit its policies.
 *
 * @since 0.1.0
 */
import * as Permission from "@warden/core/Permission"
import * as Principal from "@warden/core/Principal"
import * as Scopes from "@warden/core/Scopes"
import * as Tenant from "@warden/core/Tenant"
import * as Arbitrary from "effect/Arbitrary"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Schema from "effect/Schema"
import * as ClaimSet from "./ClaimSet.js"
import type * as Mutation from "./Mutation.js"
import type * as TokenRecipe from "./TokenRecipe.js"

type Arb<A> = FastCheck.Arbitrary<A>

/** One of the given literals, typed as their union. */
const literal = <const T extends ReadonlyArray<string>>(...values: T): Arb<T[number]> =>
  FastCheck.constantFrom(...values)

// --- tenants and subjects ------------------------------------------------------------------------------------------

/** Tenant ids: a few common ones (`acme` and `Acme` are two tenants), or any the `TenantId` schema allows. */
export const tenantId: Arb<Tenant.TenantId> = FastCheck.oneof(
  {
    weight: 2,
    arbitrary: FastCheck.constantFrom("acme", "Acme", "globex", "initech", "umbrella", "0").filter(
      Schema.is(Tenant.TenantId)
    )
  },
  { weight: 3, arbitrary: Arbitrary.make(Tenant.TenantId) }
)

/** Two different tenants. */
export const tenantPair: Arb<readonly [Tenant.TenantId, Tenant.TenantId]> = FastCheck.uniqueArray(tenantId, {
  minLength: 2,
  maxLength: 2
}).map(([a, b]) => [a!, b!] as const)

/** Strings that are not tenant ids: empty, too long, a bad first character, a character outside the set. */
export const invalidTenantId: Arb<string> = FastCheck.oneof(
  FastCheck.constant(""),
  FastCheck.integer({ min: 129, max: 300 }).map((n) => "a".repeat(n)),
  FastCheck.tuple(FastCheck.constantFrom(".", "-", "_", " ", "*"), tenantId).map(([c, t]) => `${c}${t}`),
  FastCheck.tuple(
    tenantId,
    FastCheck.constantFrom(" ", "/", ":", "@", "é", "\u0000", "\u200b", "\u0430", "+", "*", "\n"),
    FastCheck.nat()
  ).map(([t, c, i]) => {
    const at = 1 + (i % t.length)
    return `${t.slice(0, at)}${c}${t.slice(at)}`
  })
)

const isSubject = Schema.is(Principal.SubjectId)

/** Subject ids: common names, printable ASCII, or any Unicode without control characters (1 to 255 characters). */
export const subjectId: Arb<Principal.SubjectId> = FastCheck.oneof(
  FastCheck.constantFrom("alice", "bob", "carol", "dave", "erin"),
  Arbitrary.make(Principal.SubjectId),
  FastCheck.string({ unit: "grapheme", minLength: 1, maxLength: 24 })
).filter(isSubject)

/** Client ids (`client_id`). */
export const clientId: Arb<Principal.ClientId> = FastCheck.oneof(
  FastCheck.constantFrom("orders", "inventory", "billing", "shop-cli"),
  Arbitrary.make(Principal.ClientId)
).filter(Schema.is(Principal.ClientId))

// --- scopes --------------------------------------------------------------------------------------------------------

/** One scope-token of RFC 6749 §3.3: common names, or any run of `%x21 / %x23-5B / %x5D-7E`. */
export const scopeToken: Arb<string> = FastCheck.oneof(
  FastCheck.constantFrom("openid", "orders.read", "orders.write", "stock:read", "admin", "a", "!", "~", "[x]"),
  FastCheck.stringMatching(/^[\x21\x23-\x5B\x5D-\x7E]{1,16}$/)
)

/** Scopes: a subset of `from` when given, else any few scope-tokens (possibly none). */
export const scopes = (options: { readonly from?: ReadonlyArray<string> } = {}): Arb<Scopes.Scopes> =>
  (options.from === undefined ?
    FastCheck.uniqueArray(scopeToken, { maxLength: 6 }) :
    FastCheck.subarray([...options.from])).map((tokens) => Either.getOrThrow(Scopes.fromTokens(tokens)))

/** Scope strings in the grammar: one or more scope-tokens separated by single spaces (repeats included). */
export const scopeString: Arb<string> = FastCheck.array(scopeToken, { minLength: 1, maxLength: 6 }).map((tokens) =>
  tokens.join(" ")
)

/** Characters no scope-token may hold: whitespace, controls, `"`, `\`, and non-ASCII look-alikes. */
const badScopeCharacters = [
  "\t",
  "\n",
  "\r",
  "\u0000",
  "\u001f",
  "\u007f",
  "\"",
  "\\",
  "\u00a0",
  "\u2003",
  "\u3000",
  "\u200b",
  "\u043e",
  "\uff0e",
  "é",
  "\u{1F511}"
] as const

/** Strings outside the grammar: empty, spaces at the ends or doubled, or a forbidden character anywhere. */
export const invalidScopeString: Arb<string> = FastCheck.oneof(
  FastCheck.constant(""),
  FastCheck.constant(" "),
  scopeString.map((s) => ` ${s}`),
  scopeString.map((s) => `${s} `),
  FastCheck.tuple(scopeString, scopeString).map(([a, b]) => `${a}  ${b}`),
  FastCheck.tuple(scopeString, FastCheck.constantFrom(...badScopeCharacters), FastCheck.nat()).map(([s, c, i]) => {
    const at = i % (s.length + 1)
    return `${s.slice(0, at)}${c}${s.slice(at)}`
  })
)

// --- permissions ---------------------------------------------------------------------------------------------------

const segment: Arb<string> = FastCheck.oneof(
  {
    weight: 3,
    arbitrary: FastCheck.constantFrom("inventory", "orders", "stock", "tenant", "user", "read", "write", "a")
  },
  { weight: 1, arbitrary: FastCheck.stringMatching(/^[A-Za-z0-9_.-]{1,10}$/) }
)

/** Permissions: 1 to 8 `:`-separated segments, mostly few and from a small vocabulary so that grants overlap. */
export const permission: Arb<string> = FastCheck.array(segment, { minLength: 1, maxLength: 8, size: "small" }).map(
  (segments) => segments.join(":")
)

/** The wildcard grants that cover a permission: `a:b:c` gives `*`, `a:*` and `a:b:*`. */
export const wildcardsOf = (permission: string): ReadonlyArray<string> => {
  const segments = permission.split(":")
  return ["*", ...segments.slice(1).map((_, i) => `${segments.slice(0, i + 1).join(":")}:*`)]
}

/** Grants: a permission, or one of its wildcard prefixes. */
export const grant: Arb<string> = permission.chain((p) => FastCheck.constantFrom(p, ...wildcardsOf(p)))

/** Strings that are not grants and grant nothing: `orders*`, `a:*:b`, empty segments, bad characters, too long. */
export const malformedGrant: Arb<string> = FastCheck.oneof(
  FastCheck.constantFrom("", "**", ":", "*:", ":*", "*:*", "a:**", "a:*:*", "orders*", "a:*b", "*a"),
  permission.map((p) => `${p}*`),
  permission.map((p) => `*:${p}`),
  permission.map((p) => `${p}:*:x`),
  permission.map((p) => `:${p}`),
  permission.map((p) => `${p}:`),
  FastCheck.tuple(permission, permission).map(([a, b]) => `${a}::${b}`),
  FastCheck.tuple(permission, FastCheck.constantFrom(" ", "/", "é", "\u0000", "#", "@", "+"), FastCheck.nat()).map(
    ([p, c, i]) => {
      const at = i % (p.length + 1)
      return `${p.slice(0, at)}${c}${p.slice(at)}`
    }
  ),
  FastCheck.array(segment, { minLength: 9, maxLength: 12 }).map((s) => s.join(":")),
  FastCheck.integer({ min: 257, max: 320 }).map((n) => "a".repeat(n))
)

/**
 * Strings that are not permissions: malformed grants, wildcard grants (a
 * grant is not a permission), and permissions spoilt after a valid prefix (a
 * bad segment, an empty one, a ninth one), which only a check that reads the
 * whole string refuses.
 */
export const invalidPermission: Arb<string> = FastCheck.oneof(
  malformedGrant,
  grant.map((g) => g.endsWith("*") ? g : `${g}:*`),
  FastCheck.tuple(
    permission,
    FastCheck.constantFrom(" x", ":", ": ", "::a", ":a b", ":\u00e9", ":*:a", ":a:b:c:d:e:f:g:h")
  ).map(([p, flaw]) => `${p}${flaw}`)
)

/** The permissions of a catalogue: 1 to 12 distinct ones. */
export const permissions: Arb<ReadonlyArray<string>> = FastCheck.uniqueArray(permission, {
  minLength: 1,
  maxLength: 12
})

/** Catalogues (`Permission.catalogue`). */
export const catalogue: Arb<Permission.Catalogue<string>> = permissions.map((ps) => Permission.catalogue(...ps))

/**
 * Grants and denies: exact permissions, wildcards and `*`, drawn from `from`
 * (a catalogue's permissions) when given; with `malformed`, some malformed
 * grants among the allows (they grant nothing). Denies are always well
 * formed: a credential with a malformed deny is refused outright, which
 * `malformedGrant` in a deny list tests on its own.
 */
export const grants = (
  options: { readonly from?: ReadonlyArray<string>; readonly malformed?: boolean } = {}
): Arb<Permission.Grants> => {
  const valid = options.from === undefined || options.from.length === 0 ?
    grant :
    FastCheck.constantFrom(...options.from).chain((p) => FastCheck.constantFrom(p, p, ...wildcardsOf(p)))
  const one = options.malformed === true ?
    FastCheck.oneof({ weight: 4, arbitrary: valid }, { weight: 1, arbitrary: malformedGrant }) :
    valid
  return FastCheck.record({
    allow: FastCheck.array(one, { maxLength: 6 }),
    deny: FastCheck.array(valid, { maxLength: 3 })
  })
}

// --- principals and claims -----------------------------------------------------------------------------------------

/** What principals to generate. Every field has a default. */
export interface PrincipalOptions {
  /** Default: either. */
  readonly kind?: "user" | "service"
  /** The principal's own tenant (`tid`). Default `tenantId`. */
  readonly tenant?: Arb<string>
  /** Further tenants the credential signs (`tenants`). Default: mostly none, sometimes a few. */
  readonly otherTenants?: Arb<ReadonlyArray<string>>
  /** Default `scopes()`. */
  readonly scopes?: Arb<Scopes.Scopes>
  /** Default: mostly none, sometimes `grants()`. */
  readonly permissions?: Arb<Permission.Grants>
  /** Default `https://identity.test`: a `TestIdentityProvider` writes its own `iss` anyway. */
  readonly issuer?: string
}

/**
 * Principals, users and services, single- and multi-tenant. A service's
 * subject is its client id; a user's client id, if any, differs from its
 * subject: the shapes `ClaimSet.fromPrincipal` round-trips.
 */
export const principal = (options: PrincipalOptions = {}): Arb<Principal.Principal> =>
  FastCheck.record({
    kind: options.kind === undefined ? literal("user", "service") : FastCheck.constant(options.kind),
    subject: subjectId,
    client: FastCheck.option(clientId, { nil: null }),
    service: clientId,
    tenant: options.tenant ?? tenantId,
    otherTenants: options.otherTenants ?? FastCheck.oneof(
      { weight: 3, arbitrary: FastCheck.constant([]) },
      { weight: 1, arbitrary: FastCheck.uniqueArray(tenantId, { minLength: 1, maxLength: 3 }) }
    ),
    scopes: options.scopes ?? scopes(),
    permissions: options.permissions ?? FastCheck.oneof(
      { weight: 2, arbitrary: FastCheck.constant(Permission.none) },
      { weight: 1, arbitrary: grants() }
    )
  }).map((p) =>
    Principal.make({
      kind: p.kind,
      subject: p.kind === "service" ? p.service : p.subject,
      clientId: p.kind === "service" ? p.service : p.client === (p.subject as string) ? null : p.client,
      tenant: p.tenant,
      tenants: p.otherTenants,
      issuer: options.issuer ?? "https://identity.test",
      scopes: p.scopes.tokens,
      permissions: p.permissions
    })
  )

/** Users (a person acting through a client). */
export const user = (options: Omit<PrincipalOptions, "kind"> = {}): Arb<Principal.Principal> =>
  principal({ ...options, kind: "user" })

/** Services (acting for themselves, client credentials). */
export const service = (options: Omit<PrincipalOptions, "kind"> = {}): Arb<Principal.Principal> =>
  principal({ ...options, kind: "service" })

/** The claim sets of principals, as a `TestIdentityProvider` writes them. */
export const claims = (options: PrincipalOptions = {}): Arb<ClaimSet.ClaimSet> =>
  principal(options).map(ClaimSet.fromPrincipal)

// --- mutations -----------------------------------------------------------------------------------------------------

const segmentName = literal("header", "claims", "signature")

const tag = <T extends string>(t: T) => FastCheck.constant(t)

const headerTamper: Arb<Mutation.HeaderTamper> = FastCheck.oneof(
  FastCheck.record({
    _tag: tag("HeaderTamper"),
    member: tag("alg"),
    value: FastCheck.constantFrom<Mutation.Json | undefined>(
      undefined,
      "none",
      "None",
      "HS256",
      "RS256",
      "PS256",
      "EdDSA",
      "ES384",
      "es256",
      "ES256 ",
      "",
      256,
      null,
      ["ES256"]
    )
  }),
  FastCheck.record({
    _tag: tag("HeaderTamper"),
    member: tag("kid"),
    value: FastCheck.oneof(
      FastCheck.constantFrom<Mutation.Json | undefined>(undefined, "", 42, null, ["k"], { kid: "k" }),
      FastCheck.string({ maxLength: 12 }).map((s) => `forged-${s}`)
    )
  }),
  FastCheck.record({
    _tag: tag("HeaderTamper"),
    member: tag("typ"),
    value: FastCheck.constantFrom<Mutation.Json | undefined>(undefined, "JWT", "AT+JWT", "application/at+jwt", "", 1)
  }),
  FastCheck.record({
    _tag: tag("HeaderTamper"),
    member: literal("cty", "crit", "b64", "zip"),
    value: FastCheck.constantFrom<Mutation.Json>("JWT", "application/jwt", ["exp"], ["b64"], [], false, "DEF")
  })
)

const invalidJson = (...values: ReadonlyArray<Mutation.Json | undefined>) =>
  FastCheck.constantFrom<Mutation.Json | undefined>(...values)

const malformedClaim: Arb<Mutation.MalformedClaim> = FastCheck.oneof(
  ...([
    ["tid", FastCheck.oneof(invalidTenantId, invalidJson(undefined, 42, null, ["acme"], {}))],
    ["tenants", FastCheck.oneof(invalidTenantId.map((t) => [t]), invalidJson("acme", [1], {}, null))],
    ["scope", FastCheck.oneof(invalidScopeString, invalidJson(1, null, ["a"]))],
    ["sub", invalidJson("", "a\u0000b", "\u007f", "x".repeat(256), 42, null)],
    ["client_id", invalidJson("", 42, null, ["orders"])],
    ["jti", invalidJson("", 1, null, "j".repeat(257))],
    ["exp", invalidJson(undefined, "300", null, true, [1])],
    ["nbf", invalidJson("0", null, {})],
    ["iat", invalidJson("0", null, [])],
    ["aud", invalidJson(undefined, 42, {}, null, ["https://elsewhere.test", 42])],
    ["iss", invalidJson(undefined, 42, null, ["https://elsewhere.test"])],
    [ClaimSet.permissionsClaim, invalidJson("inventory:*", [1], {})],
    [ClaimSet.denyClaim, invalidJson("inventory:*", [true], {})]
  ] as const).map(([claim, value]) =>
    FastCheck.record({ _tag: tag("MalformedClaim"), claim: FastCheck.constant<string>(claim), value })
  )
)

/** Every mutation a verifier must refuse. */
export const hostileMutation: Arb<Mutation.Hostile> = FastCheck.oneof(
  FastCheck.record({
    _tag: tag("BitFlip"),
    segment: segmentName,
    index: FastCheck.nat(),
    bit: FastCheck.integer({ min: 0, max: 7 })
  }),
  FastCheck.record({ _tag: tag("Truncated"), segment: segmentName, keep: FastCheck.nat() }),
  FastCheck.record({
    _tag: tag("Respell"),
    spelling: literal("padding", "standard-alphabet", "trailing-bits", "space", "line-break", "tab"),
    segment: segmentName,
    position: FastCheck.nat()
  }),
  headerTamper,
  FastCheck.record({
    _tag: tag("ClaimTamper"),
    edit: literal(
      "extend-expiry",
      "add-scope",
      "add-permission",
      "change-subject",
      "add-audience",
      "drop-token-id",
      "toggle-service"
    )
  }),
  FastCheck.record({ _tag: tag("WrongTenant"), claim: literal("tid", "tenants"), tenant: tenantId }),
  FastCheck.oneof(
    FastCheck.record({
      _tag: tag("DuplicateMember"),
      part: tag("header"),
      member: FastCheck.constantFrom("alg", "kid", "typ"),
      resigned: FastCheck.boolean()
    }),
    FastCheck.record({
      _tag: tag("DuplicateMember"),
      part: tag("claims"),
      member: FastCheck.constantFrom("tid", "tenants", "sub", "scope", "exp", "iss", "aud", "jti"),
      resigned: FastCheck.boolean()
    })
  ),
  FastCheck.record({ _tag: tag("Expired"), secondsAgo: FastCheck.integer({ min: 31, max: 86_400 }) }),
  FastCheck.record({
    _tag: tag("NotYetValid"),
    claim: literal("nbf", "iat"),
    secondsAhead: FastCheck.integer({ min: 31, max: 3_600 })
  }),
  FastCheck.record({
    _tag: tag("Misissued"),
    flaw: literal(
      "audience-elsewhere",
      "audience-suffixed",
      "audience-empty",
      "issuer-elsewhere",
      "issuer-suffixed",
      "no-expiry",
      "no-issuer",
      "no-audience",
      "no-subject",
      "lifetime-too-long",
      "type-jwt",
      "no-type",
      "nested-jwt",
      "unknown-critical-header",
      "algorithm-mismatch"
    )
  }),
  malformedClaim,
  FastCheck.record({ _tag: tag("ForeignKey"), kid: literal("issuer", "own") }),
  FastCheck.record({ _tag: tag("KeyConfusion"), secret: literal("jwk-json", "jwk-x") }),
  FastCheck.record({
    _tag: tag("EmbeddedKey"),
    member: literal("jwk", "jku", "x5u"),
    kid: literal("issuer", "own")
  })
)

/** Spellings of the same JSON value. */
export const spelling: Arb<Mutation.Spelling> = FastCheck.record({
  rotate: FastCheck.nat({ max: 8 }),
  reverse: FastCheck.boolean(),
  spaced: FastCheck.boolean(),
  escapeEvery: FastCheck.integer({ min: 0, max: 4 })
})

/** Re-encodings that carry a valid signature over the same claims. */
export const equivalentReEncoding: Arb<Mutation.Equivalent> = FastCheck.oneof(
  FastCheck.record({ _tag: tag("Resigned") }),
  FastCheck.record({ _tag: tag("EcdsaTwin") }),
  FastCheck.record({ _tag: tag("Reserialised"), part: literal("header", "claims"), spelling })
)

/** Every re-encoding: equivalent ones, and the same bytes spelt non-canonically. */
export const reEncoding: Arb<Mutation.ReEncoding> = FastCheck.oneof(
  equivalentReEncoding,
  FastCheck.record({
    _tag: tag("Respell"),
    spelling: literal("padding", "standard-alphabet", "trailing-bits", "space", "line-break", "tab"),
    segment: segmentName,
    position: FastCheck.nat()
  })
)

// --- tokens --------------------------------------------------------------------------------------------------------

/** Recipes of valid tokens for principals (see `TokenRecipe.bake`). */
export const validToken = (options: PrincipalOptions = {}): Arb<TokenRecipe.TokenRecipe<never>> =>
  claims(options).map((c) => ({ claims: c }))

/** Recipes of hostile mutations of valid tokens. */
export const hostileToken = (
  options: PrincipalOptions = {}
): Arb<TokenRecipe.TokenRecipe<Mutation.Hostile> & { readonly mutation: Mutation.Hostile }> =>
  FastCheck.record({ claims: claims(options), mutation: hostileMutation })

/** Recipes of re-encodings of valid tokens. */
export const reEncodedToken = (
  options: PrincipalOptions = {}
): Arb<TokenRecipe.TokenRecipe<Mutation.ReEncoding> & { readonly mutation: Mutation.ReEncoding }> =>
  FastCheck.record({ claims: claims(options), mutation: reEncoding })
