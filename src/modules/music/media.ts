import type { MediaStorage } from '../../platform/media-storage.js';
import type { MediaSigner } from './signing.js';

/** What the music services need beyond the database: storage, signatures, bounds, and the server's own address. */
export interface MediaServices {
  storage: MediaStorage;
  signer: MediaSigner;
  maxBytes: number;
  uploadTicketSeconds: number;
  urlSeconds: number;
  /** The server's base URL (`PUBLIC_URL`, or the address it listens on): upload and playback URLs start with it. */
  origin(): string;
}
