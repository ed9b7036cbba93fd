export * from './whisper';
