import { defineParameterType } from '@cucumber/cucumber';

defineParameterType({
  name: 'broker',
  regexp: /aedes|Mosquitto/,
  transformer: (name: string) => name.toLowerCase(),
});
