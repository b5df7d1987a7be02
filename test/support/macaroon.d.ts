// The `macaroon` package ships no types; this is the part the tests use.
declare module "macaroon" {
  export interface Macaroon {
    readonly identifier: Uint8Array;
    readonly location: string;
    readonly signature: Uint8Array;
    readonly caveats: { identifier: Uint8Array; location?: string; vid?: Uint8Array }[];
    addFirstPartyCaveat(caveatId: string | Uint8Array): void;
    verify(rootKey: Uint8Array, check: (condition: string) => string | null, discharges?: Macaroon[]): void;
    exportBinary(): Uint8Array;
  }
  export function newMacaroon(p: {
    identifier: string | Uint8Array;
    location?: string;
    rootKey: string | Uint8Array;
    version?: 1 | 2;
  }): Macaroon;
  export function importMacaroon(obj: string | Uint8Array): Macaroon;
  export function bytesToBase64(bytes: Uint8Array): string;
  export function base64ToBytes(s: string): Uint8Array;
}
