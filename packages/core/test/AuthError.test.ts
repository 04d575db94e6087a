import { describe, expect, it } from "@effect/vitest"
import { AuthError } from "@warden/core"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Schema from "effect/Schema"

const { Forbidden, Unauthenticated } = AuthError

const props = { fastCheck: { numRuns: 1000 } }

/** A quoted-string value as RFC 6750 §3 allows it: %x20-21 / %x23-5B / %x5D-7E. */
const safeQuoted = /^"[\x20\x21\x23-\x5B\x5D-\x7E]*"$/

describe("Unauthenticated.of", () => {
  it("has no error code for missing credentials", () => {
    const error = Unauthenticated.of("missing_credentials", "no credentials were sent")
    expect(error.code).toBeNull()
    expect(error.reason).toBe("missing_credentials")
    expect(error.description).toBe("no credentials were sent")
    expect(error._tag).toBe("Unauthenticated")
  })

  it.each(["malformed_header", "conflicting_credentials"] as const)("gives invalid_request for %s", (reason) => {
    expect(Unauthenticated.of(reason, "d").code).toBe("invalid_request")
  })

  it("gives invalid_token for every other reason", () => {
    const others = AuthError.UnauthenticatedReason.literals.filter(
      (r) => r !== "missing_credentials" && r !== "malformed_header" && r !== "conflicting_credentials"
    )
    expect(others).toContain("expired")
    expect(others).toContain("inactive")
    expect(others).toHaveLength(AuthError.UnauthenticatedReason.literals.length - 3)
    for (const reason of others) expect(Unauthenticated.of(reason, "d").code, reason).toBe("invalid_token")
  })

  it("has a message made of the reason and the description", () => {
    expect(Unauthenticated.of("expired", "the token has expired").message).toBe("expired: the token has expired")
    expect(Forbidden.of("missing_scope", "scope a", "the token lacks the scope \"a\"").message).toBe(
      "missing_scope: the token lacks the scope \"a\""
    )
  })
})

describe("Forbidden.of", () => {
  it("always has the code insufficient_scope, and no scope unless given", () => {
    const error = Forbidden.of("tenant_mismatch", "tenant globex", "the request is for another tenant")
    expect(error._tag).toBe("Forbidden")
    expect(error.code).toBe("insufficient_scope")
    expect(error.scope).toBeNull()
    expect(Forbidden.of("missing_scope", "scope a", "d", "a").scope).toBe("a")
  })
})

describe("httpStatus", () => {
  it.each(
    [
      { reason: "missing_credentials", status: 401 },
      { reason: "malformed_header", status: 400 },
      { reason: "conflicting_credentials", status: 400 },
      { reason: "expired", status: 401 },
      { reason: "signature", status: 401 },
      { reason: "unavailable", status: 401 }
    ] as const
  )("is $status for Unauthenticated $reason", ({ reason, status }) => {
    expect(AuthError.httpStatus(Unauthenticated.of(reason, "d"))).toBe(status)
  })

  it("is 403 for Forbidden", () => {
    expect(AuthError.httpStatus(Forbidden.of("missing_scope", "scope a", "d", "a"))).toBe(403)
    expect(AuthError.httpStatus(Forbidden.of("denied_permission", "permission a", "d"))).toBe(403)
  })
})

describe("wwwAuthenticate", () => {
  it("gives only the scheme and realm when no credentials were sent", () => {
    const error = Unauthenticated.of("missing_credentials", "no credentials were sent")
    expect(AuthError.wwwAuthenticate(error, { realm: "x" })).toBe("Bearer realm=\"x\"")
    expect(AuthError.wwwAuthenticate(error)).toBe("Bearer")
  })

  it("names invalid_token and describes the error", () => {
    const error = Unauthenticated.of("expired", "the token has expired")
    expect(AuthError.wwwAuthenticate(error, { realm: "shop" })).toBe(
      "Bearer realm=\"shop\", error=\"invalid_token\", error_description=\"the token has expired\""
    )
    expect(AuthError.wwwAuthenticate(error)).toBe(
      "Bearer error=\"invalid_token\", error_description=\"the token has expired\""
    )
  })

  it("names invalid_request for a malformed header", () => {
    const error = Unauthenticated.of("malformed_header", "use Bearer")
    expect(AuthError.wwwAuthenticate(error, { realm: "x" })).toBe(
      "Bearer realm=\"x\", error=\"invalid_request\", error_description=\"use Bearer\""
    )
  })

  it("replaces '\"', '\\', control and non-ASCII characters in the description and realm", () => {
    const error = Unauthenticated.of("malformed", "bad \"token\" \\ caf\u00e9 \u2014 \t\n\u{1F600}")
    expect(AuthError.wwwAuthenticate(error, { realm: "r\"é" })).toBe(
      "Bearer realm=\"r'?\", error=\"invalid_token\", error_description=\"bad 'token' ? caf? ? ???\""
    )
  })

  it("gives the scope to ask for when a Forbidden has one", () => {
    const error = Forbidden.of("missing_scope", "scope orders.write", "the token lacks the scope", "orders.write")
    expect(AuthError.wwwAuthenticate(error, { realm: "x" })).toBe(
      "Bearer realm=\"x\", error=\"insufficient_scope\", error_description=\"the token lacks the scope\", " +
        "scope=\"orders.write\""
    )
  })

  it("gives no scope for a Forbidden without one", () => {
    const error = Forbidden.of("tenant_mismatch", "tenant globex", "the request is for another tenant")
    expect(AuthError.wwwAuthenticate(error, { realm: "x" })).toBe(
      "Bearer realm=\"x\", error=\"insufficient_scope\", error_description=\"the request is for another tenant\""
    )
  })

  it.prop(
    "always gives quoted values within the RFC 6750 character set, whatever the description and realm",
    [FastCheck.string({ unit: "binary", maxLength: 40 }), FastCheck.string({ unit: "binary", maxLength: 10 })],
    ([description, realm]) => {
      const header = AuthError.wwwAuthenticate(Unauthenticated.of("signature", description), { realm })
      const match = /^Bearer realm=(".*"), error="invalid_token", error_description=(".*")$/.exec(header)
      expect(match, header).not.toBeNull()
      expect(match![1]).toMatch(safeQuoted)
      expect(match![2]).toMatch(safeQuoted)
      expect(match![2]!.length).toBe([...description].length + 2)
    },
    props
  )
})

describe("grpcStatus", () => {
  it("is UNAUTHENTICATED (16) for Unauthenticated", () => {
    expect(AuthError.grpcStatus(Unauthenticated.of("expired", "d"))).toEqual({ code: 16, name: "UNAUTHENTICATED" })
    expect(AuthError.grpcStatus(Unauthenticated.of("missing_credentials", "d")).code).toBe(16)
  })

  it("is PERMISSION_DENIED (7) for Forbidden", () => {
    expect(AuthError.grpcStatus(Forbidden.of("not_a_user", "a user", "d"))).toEqual({
      code: 7,
      name: "PERMISSION_DENIED"
    })
  })
})

describe("isAuthError", () => {
  it("recognises both refusals and nothing else", () => {
    expect(AuthError.isAuthError(Unauthenticated.of("expired", "d"))).toBe(true)
    expect(AuthError.isAuthError(Forbidden.of("not_a_user", "a user", "d"))).toBe(true)
    expect(AuthError.isAuthError(new Error("expired: d"))).toBe(false)
    expect(AuthError.isAuthError({ _tag: "Forbidden", code: "insufficient_scope" })).toBe(false)
  })
})

describe("the refusals on the wire", () => {
  it.effect("Unauthenticated round-trips through its schema", () =>
    Effect.gen(function*() {
      for (const reason of ["missing_credentials", "malformed_header", "expired"] as const) {
        const error = Unauthenticated.of(reason, "the description")
        const encoded = yield* Schema.encode(Unauthenticated)(error)
        expect(encoded).toEqual({ _tag: "Unauthenticated", code: error.code, reason, description: "the description" })
        const decoded = yield* Schema.decodeUnknown(Unauthenticated)(JSON.parse(JSON.stringify(encoded)))
        expect(decoded).toBeInstanceOf(Unauthenticated)
        expect(decoded.code).toBe(error.code)
        expect(decoded.reason).toBe(reason)
        expect(decoded.description).toBe("the description")
        expect(decoded.message).toBe(error.message)
      }
    }))

  it.effect("Forbidden round-trips through its schema, with and without a scope", () =>
    Effect.gen(function*() {
      for (const scope of ["orders.write", null]) {
        const error = Forbidden.of("missing_scope", "scope orders.write", "the description", scope)
        const encoded = yield* Schema.encode(Forbidden)(error)
        expect(encoded).toEqual({
          _tag: "Forbidden",
          code: "insufficient_scope",
          reason: "missing_scope",
          requirement: "scope orders.write",
          scope,
          description: "the description"
        })
        const decoded = yield* Schema.decodeUnknown(Forbidden)(JSON.parse(JSON.stringify(encoded)))
        expect(decoded).toBeInstanceOf(Forbidden)
        expect(decoded.reason).toBe("missing_scope")
        expect(decoded.requirement).toBe("scope orders.write")
        expect(decoded.scope).toBe(scope)
        expect(decoded.description).toBe("the description")
        expect(AuthError.httpStatus(decoded)).toBe(403)
      }
    }))

  it("rejects a reason outside the closed union", () => {
    const result = Schema.decodeUnknownEither(Unauthenticated)({
      _tag: "Unauthenticated",
      code: "invalid_token",
      reason: "bad_luck",
      description: "d"
    })
    expect(Either.getOrThrow(Either.flip(result))._tag).toBe("ParseError")
  })

  it("rejects a Forbidden with another code", () => {
    const result = Schema.decodeUnknownEither(Forbidden)({
      _tag: "Forbidden",
      code: "invalid_token",
      reason: "missing_scope",
      requirement: "scope a",
      scope: "a",
      description: "d"
    })
    expect(Either.isLeft(result)).toBe(true)
  })
})
