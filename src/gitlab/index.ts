export {
  gitlabCall,
  gitlabError,
  gitlabFromEnv,
  gitlabHost,
  gitlabStatus,
  isTransientGitlabError,
  type GitlabClient,
  type GitlabClientOptions,
  type GitlabTokenKind,
} from './client.js';
export {
  findGantryNote,
  isGantryNote,
  MR_NOTE_MARKER,
  MR_NOTE_STATUSES,
  renderMrNote,
  upsertMrNote,
  type Diagnosis,
  type MrNoteInput,
  type MrNoteStatus,
  type UpsertMrNoteInput,
  type UpsertMrNoteResult,
} from './note.js';
export { listOpenMrIids, mrInfo, mrState, previewsToRemove, stopEnvironment, type MrState, type PreviewVerdict, type StopEnvironmentResult } from './mr.js';
