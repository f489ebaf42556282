// Everything the Hallpass service sends about this computer, field by field, in words a pupil can
// read: what it is, why it is collected, and how long it is kept (ARCHITECTURE.md, Privacy and
// Storage; the server keeps each computer's latest state and a history of changes, and deletes
// raw reports after its retention period, 30 days unless the trust sets another). A test walks
// shared/schemas (report, device facts, events) and fails if a field the service sends is not
// explained here, or if an entry here explains a field that no longer exists.

/** One field the service sends. `key` is its path in the schema (`[]` for list items). */
export interface CollectedField {
  key: string;
  label: string;
  what: string;
  why: string;
}

/** A group of fields sent together, with how long they are kept. */
export interface CollectedGroup {
  id: string;
  heading: string;
  intro: string;
  /** `report`, `event` (every event's envelope) or event types whose `data` this explains. */
  sources: string[];
  kept: string;
  fields: CollectedField[];
}

const REPORT_KEPT =
  'The latest report for this computer is kept while it is a school computer. Each full report is deleted after 30 days (the trust can choose a different time). When a check changes (for example from OK to needs fixing) that change is kept in the computer’s history for as long as the trust keeps records.';
const EVENT_KEPT =
  'Kept in the computer’s history for as long as the trust keeps records, and included if you ask the trust for a copy of the information it holds about you (a subject access request).';

/** Every group, in the order the page shows them. */
export const COLLECTED: readonly CollectedGroup[] = [
  {
    id: 'report',
    heading: 'Each report',
    intro:
      'Hallpass sends a report when the computer starts, every 15 minutes or so, and whenever a check changes.',
    sources: ['report'],
    kept: REPORT_KEPT,
    fields: [
      {
        key: 'schemaVersion',
        label: 'Report format',
        what: 'Which version of the report layout this is.',
        why: 'So the server reads it correctly.',
      },
      {
        key: 'id',
        label: 'Report number',
        what: 'A random number for this one report.',
        why: 'So the same report is never counted twice.',
      },
      {
        key: 'createdAt',
        label: 'When it was made',
        what: 'The date and time of the report.',
        why: 'So ICT know how up to date it is.',
      },
      {
        key: 'policy.name',
        label: 'School rules in use',
        what: 'The name of the set of rules this computer follows, such as “Pupil laptops”.',
        why: 'So ICT can see which rules were checked.',
      },
      {
        key: 'policy.version',
        label: 'Rules version',
        what: 'Which version of those rules.',
        why: 'So ICT know the computer has the latest rules.',
      },
      {
        key: 'overall',
        label: 'Overall result',
        what: 'Whether everything is fine, needs a look or needs fixing.',
        why: 'So ICT see at a glance which computers need help.',
      },
    ],
  },
  {
    id: 'device',
    heading: 'About this computer',
    intro: 'Each report describes the computer itself. Nothing here is about what you do on it.',
    sources: ['report'],
    kept: REPORT_KEPT,
    fields: [
      {
        key: 'device.hostname',
        label: 'Computer name',
        what: 'The name the computer has on the network, such as LAB2-PC14.',
        why: 'So ICT can find the computer.',
      },
      {
        key: 'device.os.name',
        label: 'System',
        what: 'Windows, macOS or Linux.',
        why: 'So ICT know how to fix problems on it.',
      },
      {
        key: 'device.os.distro',
        label: 'System edition',
        what: 'Which edition of the system, such as Windows 11 Education.',
        why: 'Some fixes depend on the edition.',
      },
      {
        key: 'device.os.version',
        label: 'System version',
        what: 'The system’s version number.',
        why: 'So ICT can tell whether it is up to date.',
      },
      {
        key: 'device.os.build',
        label: 'System build',
        what: 'The exact build number of the system.',
        why: 'So ICT can tell which security fixes it has.',
      },
      {
        key: 'device.os.arch',
        label: 'Processor type',
        what: 'The kind of processor, such as x64 or arm64.',
        why: 'So ICT install the right software.',
      },
      {
        key: 'device.model',
        label: 'Model',
        what: 'The computer’s model name.',
        why: 'So ICT know what hardware it is.',
      },
      {
        key: 'device.manufacturer',
        label: 'Maker',
        what: 'Who made the computer.',
        why: 'So ICT know who to ask for repairs.',
      },
      {
        key: 'device.serial',
        label: 'Serial number',
        what: 'The number printed on the computer by its maker.',
        why: 'So ICT can match it to the school’s list of computers.',
      },
      {
        key: 'device.machineIdHash',
        label: 'Scrambled computer code',
        what: 'A scrambled form of the system’s own code for this computer. It cannot be turned back into the code.',
        why: 'So ICT can spot two computers set up from the same copy.',
      },
      {
        key: 'device.agentVersion',
        label: 'Hallpass version',
        what: 'Which version of Hallpass is installed.',
        why: 'So ICT know it is up to date.',
      },
    ],
  },
  {
    id: 'results',
    heading: 'Check results',
    intro:
      'Each report has one result for each check (encryption, anti-virus, updates, firewall, screen lock and Hallpass itself).',
    sources: ['report'],
    kept: REPORT_KEPT,
    fields: [
      {
        key: 'results[].checkId',
        label: 'Which check',
        what: 'The name of the check.',
        why: 'So ICT know what the result is about.',
      },
      {
        key: 'results[].status',
        label: 'Result',
        what: 'OK, needs a look, needs fixing, or could not check.',
        why: 'So ICT know what needs fixing.',
      },
      {
        key: 'results[].summary',
        label: 'Summary',
        what: 'One sentence saying what was found, like the one on the status page.',
        why: 'So ICT can read the result quickly.',
      },
      {
        key: 'results[].remediation',
        label: 'How to fix it',
        what: 'What staff or ICT should do about it.',
        why: 'So whoever fixes it knows how.',
      },
      {
        key: 'results[].evidence',
        label: 'Details',
        what: 'The settings the check read, such as whether the firewall is on. Never your files, websites or typing.',
        why: 'So ICT can see why the check said what it said.',
      },
      {
        key: 'results[].measuredAt',
        label: 'When it was checked',
        what: 'The date and time of the check.',
        why: 'So ICT know how recent it is.',
      },
      {
        key: 'results[].durationMs',
        label: 'How long it took',
        what: 'How many milliseconds the check took.',
        why: 'So ICT can spot a slow or stuck computer.',
      },
      {
        key: 'results[].reason.code',
        label: 'Why it could not check',
        what: 'A short code, such as “timeout”, when a check could not tell.',
        why: 'So ICT can fix the check itself.',
      },
      {
        key: 'results[].reason.detail',
        label: 'More about why',
        what: 'A sentence explaining that code.',
        why: 'So ICT can fix the check itself.',
      },
    ],
  },
  {
    id: 'event',
    heading: 'Each event',
    intro:
      'Hallpass also sends an event when something happens, such as a USB stick being blocked or the screen locking. Every event has these parts.',
    sources: ['event'],
    kept: EVENT_KEPT,
    fields: [
      {
        key: 'schemaVersion',
        label: 'Event format',
        what: 'Which version of the event layout this is.',
        why: 'So the server reads it correctly.',
      },
      {
        key: 'id',
        label: 'Event number',
        what: 'A random number for this one event.',
        why: 'So the same event is never counted twice.',
      },
      {
        key: 'occurredAt',
        label: 'When it happened',
        what: 'The date and time.',
        why: 'So ICT know when it happened.',
      },
      {
        key: 'type',
        label: 'What happened',
        what: 'The kind of event, such as “USB blocked”.',
        why: 'So ICT know what the event is about.',
      },
      {
        key: 'data',
        label: 'Event details',
        what: 'The details listed below for each kind of event.',
        why: 'See each kind below.',
      },
    ],
  },
  {
    id: 'usb',
    heading: 'USB storage blocked or allowed',
    intro:
      'When a USB stick, drive, phone or camera is plugged in, Hallpass records what it did. It never looks at the files on it.',
    sources: ['usb.blocked', 'usb.allowed'],
    kept: EVENT_KEPT,
    fields: [
      { key: 'at', label: 'When', what: 'When it was plugged in.', why: 'So ICT know when.' },
      {
        key: 'device.vendorId',
        label: 'Maker code',
        what: 'The code for who made the device.',
        why: 'So ICT can approve that kind of device.',
      },
      {
        key: 'device.productId',
        label: 'Product code',
        what: 'The code for the kind of device.',
        why: 'So ICT can approve that kind of device.',
      },
      {
        key: 'device.serial',
        label: 'Device serial number',
        what: 'The device’s own serial number, if it has one. Cheap sticks bought in bulk can share one.',
        why: 'So ICT can approve that one device.',
      },
      {
        key: 'device.name',
        label: 'Device name',
        what: 'The name the device gives itself, such as “SanDisk Cruzer”.',
        why: 'So ICT can recognise it.',
      },
      {
        key: 'device.kind',
        label: 'Kind of device',
        what: 'A USB drive, or a phone or camera.',
        why: 'The school’s rules treat them differently.',
      },
      {
        key: 'action',
        label: 'What Hallpass did',
        what: 'Blocked, read-only, or allowed.',
        why: 'So ICT know what happened to it.',
      },
      {
        key: 'basis',
        label: 'Why',
        what: 'Approved, not approved, approval run out, and so on.',
        why: 'So ICT can see the rule that applied.',
      },
      {
        key: 'mode',
        label: 'USB rule in use',
        what: 'Whether USB storage is blocked, read-only, watched or allowed on this computer.',
        why: 'So ICT can see the rule that applied.',
      },
      {
        key: 'user',
        label: 'Who was signed in',
        what: 'The username signed in at the computer at the time.',
        why: 'So the school can follow up if needed.',
      },
      {
        key: 'approvalId',
        label: 'Approval',
        what: 'Which ICT approval let the device in, if one did.',
        why: 'So ICT can check approvals.',
      },
      {
        key: 'count',
        label: 'How many times',
        what: 'How many times in a row the same thing happened with the same device.',
        why: 'So plugging in many times makes one record, not hundreds.',
      },
      {
        key: 'firstAt',
        label: 'First time',
        what: 'When the first of those times was.',
        why: 'So ICT know how long it went on.',
      },
    ],
  },
  {
    id: 'aup',
    heading: 'Acceptable use agreement signed or declined',
    intro:
      'When you agree to (or decline) the school’s rules for using computers, Hallpass records it.',
    sources: ['aup.accepted', 'aup.declined'],
    kept: EVENT_KEPT,
    fields: [
      {
        key: 'user',
        label: 'Who',
        what: 'The username signed in at the computer.',
        why: 'So the school knows who agreed.',
      },
      {
        key: 'role',
        label: 'Pupil or staff',
        what: 'Whether the agreement was the pupil or the staff one.',
        why: 'They are different agreements.',
      },
      {
        key: 'documentId',
        label: 'Which agreement',
        what: 'Which agreement it was.',
        why: 'So the school knows what you agreed to.',
      },
      {
        key: 'kind',
        label: 'Kind of agreement',
        what: 'The acceptable use policy or a device loan contract.',
        why: 'So the school knows what you agreed to.',
      },
      {
        key: 'version',
        label: 'Agreement version',
        what: 'Which version of the agreement.',
        why: 'You are asked again when it changes.',
      },
      {
        key: 'textSha256',
        label: 'Fingerprint of the text',
        what: 'A code worked out from the exact words you were shown.',
        why: 'So nobody can later change what you agreed to.',
      },
      {
        key: 'acknowledged[]',
        label: 'Points ticked',
        what: 'Which points of the agreement you ticked.',
        why: 'To show each point was agreed.',
      },
      {
        key: 'fullName',
        label: 'Name you typed',
        what: 'The name you typed to sign.',
        why: 'It is your signature.',
      },
      {
        key: 'tutorGroup',
        label: 'Tutor group',
        what: 'Your tutor group, if you were asked for it.',
        why: 'So the school can find your agreement.',
      },
      {
        key: 'parentCarer',
        label: 'Parent or carer',
        what: 'The name of a parent or carer, if the agreement asks for one.',
        why: 'Some agreements need a parent or carer too.',
      },
      {
        key: 'action',
        label: 'What happened after declining',
        what: 'What the computer did when the agreement was declined, such as signing out.',
        why: 'The school’s rules say what happens.',
      },
      {
        key: 'actionError',
        label: 'If that did not work',
        what: 'Why that action failed, if it did.',
        why: 'So ICT can fix it.',
      },
      {
        key: 'reason',
        label: 'Why it counted as declined',
        what: 'Whether you declined, or the agreement window was kept from showing (the Hallpass app was closed or stopped).',
        why: 'Stopping the window does not skip the agreement.',
      },
    ],
  },
  {
    id: 'idle',
    heading: 'Screen locked because nobody was using it',
    intro: 'When the screen locks itself after the computer was left alone, Hallpass records it.',
    sources: ['idle.locked'],
    kept: EVENT_KEPT,
    fields: [
      {
        key: 'user',
        label: 'Who was signed in',
        what: 'The username signed in at the computer.',
        why: 'The school’s rules say computers must not be left unlocked.',
      },
      {
        key: 'idleSeconds',
        label: 'How long it was left',
        what: 'How many seconds nobody had used it.',
        why: 'So ICT can check the lock works as it should.',
      },
    ],
  },
  {
    id: 'idle-failed',
    heading: 'Screen could not lock itself',
    intro:
      'When the screen should have locked itself but could not, Hallpass tells ICT so they can fix it.',
    sources: ['idle.lock-failed'],
    kept: EVENT_KEPT,
    fields: [
      {
        key: 'user',
        label: 'Who was signed in',
        what: 'The username signed in at the computer.',
        why: 'So ICT know which computer and session to look at.',
      },
      {
        key: 'kind',
        label: 'What went wrong',
        what: 'Whether the lock failed, worked only the second way, could not start, or could not tell how long the computer was left.',
        why: 'So ICT know what to fix.',
      },
      {
        key: 'reason',
        label: 'The computer’s message',
        what: 'The error message the computer gave, cut short.',
        why: 'So ICT can find the cause.',
      },
      {
        key: 'count',
        label: 'How many times',
        what: 'How many times it went wrong within a few minutes.',
        why: 'So a problem that repeats makes one record, not hundreds.',
      },
      {
        key: 'firstAt',
        label: 'First time',
        what: 'When the first of those times was.',
        why: 'So ICT know how long it went on.',
      },
    ],
  },
  {
    id: 'tamper',
    heading: 'Problems with Hallpass or the computer’s protection',
    intro: 'Hallpass tells ICT when something stops it or the computer’s protection from working.',
    sources: [
      'tamper.antivirus-disabled',
      'tamper.agent-stopped',
      'tamper.tray-missing',
      'tamper.policy-rejected',
      'tamper.state-corrupt',
      'tamper.events-dropped',
      'outbox.reports-dropped',
    ],
    kept: EVENT_KEPT,
    fields: [
      {
        key: 'product',
        label: 'Anti-virus name',
        what: 'Which anti-virus was turned off.',
        why: 'So ICT can turn it back on.',
      },
      {
        key: 'detail',
        label: 'What went wrong',
        what: 'A sentence about what stopped working.',
        why: 'So ICT can fix it.',
      },
      {
        key: 'user',
        label: 'Who was signed in',
        what: 'The user name signed in when the Hallpass icon had been missing for too long.',
        why: 'So ICT can find out why Hallpass was not running for them.',
      },
      {
        key: 'since',
        label: 'Missing since',
        what: 'When Hallpass first saw that its icon was not running for that user.',
        why: 'So ICT know how long the computer went without it.',
      },
      {
        key: 'minutes',
        label: 'Time allowed',
        what: 'How many minutes the school allows before this is reported.',
        why: 'So ICT can see which rule was broken.',
      },
      {
        key: 'reason',
        label: 'Why the rules were refused',
        what: 'Why the computer refused a set of rules from the server.',
        why: 'So ICT can fix the rules.',
      },
      {
        key: 'store',
        label: 'Which Hallpass file',
        what: 'Which of Hallpass’s own files was damaged.',
        why: 'So ICT can look into it.',
      },
      {
        key: 'count',
        label: 'How many were lost',
        what: 'How many reports or events Hallpass could not keep because it was full.',
        why: 'So ICT know there is a gap.',
      },
      {
        key: 'firstDroppedAt',
        label: 'From',
        what: 'When the gap began.',
        why: 'So ICT know where the gap is.',
      },
      {
        key: 'lastDroppedAt',
        label: 'To',
        what: 'When the gap ended.',
        why: 'So ICT know where the gap is.',
      },
    ],
  },
];
