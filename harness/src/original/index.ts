export { OriginalFakeDevice, type OriginalFakeDeviceOptions, type OriginalAnswer } from './original-fake-device.ts';
export { OriginalPythonDevice, type OriginalPythonDeviceOptions, type OriginalService } from './original-python-device.ts';
export { ORIGINAL_DIR_ENV, ORIGINAL_PYTHON_ENV, OriginalSoftware, type OriginalSoftwareLookup, repositoryRoot } from './original-software.ts';
export { type StreamEntry, compareStreamIds, parseStreamId, toStreamEntries } from './stream-entry.ts';
export { type SupervisorCall, SupervisorStub } from './supervisor-stub.ts';
