/** Public surface of the TFTP server module (read-only TFTP for Pi netboot, per-Pi views). */
export { TftpServer, DEFAULT_TFTP_OPTIONS } from "./server.ts";
export { systemClock } from "../../lib/clock.ts";
export type {
  AbortReason,
  TftpClock,
  PiBootView,
  PiViewResolver,
  SocketFactory,
  TftpEvent,
  TftpServerDeps,
  TftpServerEvents,
  TftpServerOptions,
  TimeoutReason,
  TransferFigures,
  TransferRef,
} from "./types.ts";
export { isOnInterface, type TftpInterface, type ListenerNetwork, type ListenerSocket } from "./listeners.ts";
export { resolveRequestPath, isPrefixFolder, type GeneratedFile } from "./paths.ts";
