// parseYamlStream reads back every rendered manifest (a user's own templates included): a key
// written twice is still an error with its line, and checking it is linear in the keys.
import { parseYamlStream } from '../../../src/render/yaml.js';

describe('parseYamlStream', () => {
  test('a duplicate key is an error naming the key and its line', () => {
    const { errors } = parseYamlStream('kind: ConfigMap\ndata:\n  A: "1"\n  B: "2"\n---\nkind: Service\nmetadata:\n  name: x\n  name: y\n');
    expect(errors).toEqual(['line 9: Map keys must be unique: "name" is already a key of this mapping']);
  });

  // Linear, not quadratic: 40k keys take about 1.1 s of CPU here (GC threads included), and a
  // quadratic check would take minutes. 5 s leaves room for a loaded CI machine (2.25 s was seen).
  test('a ConfigMap of 40k keys in one flow mapping parses in seconds of CPU, not minutes', () => {
    const data = Array.from({ length: 40_000 }, (_, i) => `"KEY_${i}": "v${i}"`).join(', ');
    const started = process.cpuUsage();
    const { docs, errors } = parseYamlStream(`kind: ConfigMap\ndata: {${data}}\n`);
    const cpu = process.cpuUsage(started);
    expect(errors).toEqual([]);
    expect(Object.keys((docs[0]!.value as { data: object }).data)).toHaveLength(40_000);
    expect((cpu.user + cpu.system) / 1e6).toBeLessThan(5);
  });
});
