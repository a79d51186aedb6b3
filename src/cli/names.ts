import { Args } from '@oclif/core';

/** One or more machine names; the command reads them all (strict = false), "default" when none is given. */
export const NAMES_ARG = {
  names: Args.string({ description: 'Machine name(s); "default" when omitted' }),
};

/** A single machine name, "default" when omitted. */
export const NAME_ARG = {
  name: Args.string({ description: 'Machine name; "default" when omitted' }),
};
