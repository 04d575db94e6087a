/** A Warden verifier for the tokens of the oidc-provider fixture, built in the current scope. */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { JwtVerifier, KeyStore, RevocationStore } from "@warden/jwt"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { OidcProviderHandle } from "./oidcProvider.js"

export const verifierFor = (provider: OidcProviderHandle, audience: string = provider.resource) =>
  Effect.flatMap(
    Layer.build(
      JwtVerifier.layer({ issuers: [provider.issuer], audience, algorithms: ["RS256"] }).pipe(
        // A cooldown of a millisecond: a rotation is picked up by the next token that names the new key.
        Layer.provide(KeyStore.layer({ jwksUrl: provider.jwksUri, allowInsecureLoopback: true, cooldown: "1 millis" })),
        Layer.provide(RevocationStore.layerMemory),
        Layer.provide(NodeHttpClient.layerUndici)
      )
    ),
    (context) => Effect.provide(JwtVerifier.JwtVerifier, context)
  )
