/** Public surface of the TFTP server module (read-only TFTP for Pi netboot, per-Pi views). */
export { TftpServer, DEFAULT_TFTP_OPTIONS, systemClock } from "./server.ts";
export type {
  AbortReason,
  Clock,
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
