// Calendar facts of an instant in a time zone, for time_restriction and daily budgets. Pure.

export type Weekday = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';

export interface ZonedTime {
  weekday: Weekday;
  hour: number;
  /** YYYY-MM-DD in the zone: the day a daily budget covers. */
  date: string;
  /** Until the next midnight in the zone (a budget's Retry-After). */
  secondsToMidnight: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string | undefined): Intl.DateTimeFormat {
  const key = timeZone ?? '';
  let f = formatters.get(key);
  if (!f) {
    // Throws RangeError for an unknown zone; config loading checks zones first (isTimeZone).
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      weekday: 'short',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(key, f);
  }
  return f;
}

export function zonedTime(nowMs: number, timeZone?: string): ZonedTime {
  const parts: Record<string, string> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(nowMs))) parts[p.type] = p.value;
  const hour = Number(parts.hour);
  const elapsed = hour * 3600 + Number(parts.minute) * 60 + Number(parts.second);
  return {
    weekday: parts.weekday.toLowerCase().slice(0, 3) as Weekday,
    hour,
    date: `${parts.year}-${parts.month}-${parts.day}`,
    secondsToMidnight: 86_400 - elapsed,
  };
}

export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}
