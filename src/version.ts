// The frontend's version, compared with the server extension's at start-up.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const pkg = require('../package.json') as { version: string };

export const FRONTEND_VERSION: string = pkg.version;
