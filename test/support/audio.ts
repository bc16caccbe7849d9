import { Readable } from 'node:stream';

const HEADER_BYTES = 44;

/** The 44-byte header of a PCM WAV file (RIFF, fmt, data) holding `dataBytes` of samples. */
function wavHeader(dataBytes: number, sampleRate: number, channels: number): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  const byteRate = sampleRate * channels * 2;
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(36 + dataBytes, 4);
  header.write('WAVE', 8, 'ascii');
  header.write('fmt ', 12, 'ascii');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(channels, 22);
  header.writeUInt32LE(sampleRate, 24);
  header.writeUInt32LE(byteRate, 28);
  header.writeUInt16LE(channels * 2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'ascii');
  header.writeUInt32LE(dataBytes, 40);
  return header;
}

/** A real WAV file of `seconds` of a 440 Hz tone, 16-bit mono: music-metadata reads its duration. */
export function wavFile(seconds: number, sampleRate = 8_000): Buffer {
  const samples = Math.round(seconds * sampleRate);
  const data = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++) data.writeInt16LE(Math.round(8_000 * Math.sin((2 * Math.PI * 440 * i) / sampleRate)), i * 2);
  return Buffer.concat([wavHeader(data.length, sampleRate, 1), data]);
}

/** A WAV file of exactly `bytes` bytes (44.1 kHz stereo), made as it is read: never in memory whole. */
export function wavStream(bytes: number, chunkBytes = 64 * 1024): Readable {
  const dataBytes = bytes - HEADER_BYTES;
  const chunk = Buffer.alloc(chunkBytes, 0x11);
  let sent = 0;
  return Readable.from(
    (function* () {
      yield wavHeader(dataBytes, 44_100, 2);
      while (sent < dataBytes) {
        const size = Math.min(chunkBytes, dataBytes - sent);
        sent += size;
        yield size === chunkBytes ? chunk : chunk.subarray(0, size);
      }
    })(),
    { objectMode: false },
  );
}

/** The start of a JPEG file (SOI, JFIF APP0), padded: an image, whatever it is called. */
export function jpegFile(bytes = 8_192): Buffer {
  const file = Buffer.alloc(bytes, 0);
  Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00]).copy(file);
  return file;
}
