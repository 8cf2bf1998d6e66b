// Vite build of the web console: web/ → web/dist, served by the API process (src/api/routes/console.ts).
// `npm run build:web` builds; `npx vite web` serves it for development with /api proxied to VIGIL_API.
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 1500 },
  server: { proxy: { '/api': process.env.VIGIL_API ?? 'http://127.0.0.1:8080' } },
});
