// Bundles the monitoring service; the shared configuration is webpack.node-app.js at the repo root.
module.exports = require('../../webpack.node-app')(__dirname);
