/**
 * Certificates for mTLS tests and demos, made with the `openssl` command in
 * a temporary directory that is removed with the scope: a CA, a second CA
 * (whose certificates the first does not trust), a server certificate for
 * 127.0.0.1, and client certificates with the subject alternative name and
 * validity asked for (a negative number of days gives an expired one).
 *
 * @since 0.2.0
 * @example
 * ```ts
 * const pki = yield* TestPki.make({ clients: { orders: { san: "URI:spiffe://shop.test/orders" } } })
 * https.createServer({ ...pki.server, ca: [pki.ca], requestCert: true, rejectUnauthorized: false })
 * https.request({ ...pki.client("orders"), ca: pki.ca, host: "127.0.0.1", ... })
 * ```
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { execFileSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

/** A client certificate to make. */
export interface ClientSpec {
  /** The subject alternative name, in openssl's form: `URI:spiffe://...`, `DNS:name`. */
  readonly san: string
  /** Signed by the untrusted second CA instead of the CA. */
  readonly otherCa?: boolean
  /** Validity in days from now; negative for a certificate that has expired. Default 2. */
  readonly days?: number
}

/** A key and its certificate, PEM. */
export interface KeyPair {
  readonly key: Buffer
  readonly cert: Buffer
}

/** What `make` made. */
export interface Pki {
  /** The CA certificate, PEM: what the server trusts and the clients check the server with. */
  readonly ca: Buffer
  /** The server's key and certificate (SAN `IP:127.0.0.1`). */
  readonly server: KeyPair
  readonly client: (name: string) => KeyPair
}

/** Makes the certificates; their directory is removed when the scope closes. */
export const make = (options: {
  readonly clients: Readonly<Record<string, ClientSpec>>
}): Effect.Effect<Pki, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => mkdtempSync(join(tmpdir(), "warden-pki-"))),
      (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
    ),
    (dir) => {
      const at = (name: string) => join(dir, name)
      const ssl = (...args: ReadonlyArray<string>) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" })
      const key = (name: string) =>
        ssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", at(`${name}.key`))
      const ca = (name: string) => {
        key(name)
        ssl(
          "req",
          "-x509",
          "-new",
          "-key",
          at(`${name}.key`),
          "-out",
          at(`${name}.crt`),
          "-days",
          "2",
          "-subj",
          `/CN=${name}`
        )
      }
      const leaf = (name: string, issuer: string, san: string, days: number) => {
        key(name)
        ssl("req", "-new", "-key", at(`${name}.key`), "-out", at(`${name}.csr`), "-subj", `/CN=${name}`)
        writeFileSync(at(`${name}.ext`), `subjectAltName=${san}\n`)
        ssl(
          "x509",
          "-req",
          "-in",
          at(`${name}.csr`),
          "-CA",
          at(`${issuer}.crt`),
          "-CAkey",
          at(`${issuer}.key`),
          "-CAcreateserial",
          "-out",
          at(`${name}.crt`),
          "-days",
          String(days),
          "-extfile",
          at(`${name}.ext`)
        )
      }
      ca("ca")
      ca("other-ca")
      leaf("server", "ca", "IP:127.0.0.1", 2)
      const pairs = new Map<string, KeyPair>()
      const pair = (name: string): KeyPair => ({
        key: readFileSync(at(`${name}.key`)),
        cert: readFileSync(at(`${name}.crt`))
      })
      for (const [name, spec] of Object.entries(options.clients)) {
        const file = `client-${name.replace(/[^A-Za-z0-9-]/g, "_")}`
        leaf(file, spec.otherCa === true ? "other-ca" : "ca", spec.san, spec.days ?? 2)
        pairs.set(name, pair(file))
      }
      return {
        ca: readFileSync(at("ca.crt")),
        server: pair("server"),
        client: (name) => {
          const found = pairs.get(name)
          if (found === undefined) throw new Error(`TestPki: no client certificate named ${name}`)
          return found
        }
      }
    }
  )
