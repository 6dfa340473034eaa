"""Builds tests/data/dicom-exports/: a hospital-style export written by pydicom's FileSet
(DICOMDIR + PTxxxx/STxxxx/SExxxx/IMxxxx, names without extensions) holding two series, and
the same export zipped by Python's zipfile. expected.json lists each series as pydicom's
DICOMDIR records describe it. Run with pydicom 3.0.2 from this folder."""
import json, os, shutil, zipfile
import pydicom
from pydicom.fileset import FileSet

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(os.path.dirname(HERE), 'dicom-exports')
FIX = os.path.join(HERE, '..', '..', '..', '..', 'tests', 'fixtures', 'io', 'dicom')

shutil.rmtree(os.path.join(OUT, 'study'), ignore_errors=True)
fs = FileSet()
ct = os.path.join(FIX, 'series_ct5n')
for name in sorted(os.listdir(ct)):
    fs.add(pydicom.dcmread(os.path.join(ct, name)))
mr = pydicom.dcmread(os.path.join(FIX, 'MR_small.dcm'))
fs.add(mr)
fs.write(os.path.join(OUT, 'study'))
with open(os.path.join(OUT, 'study', 'README.txt'), 'w') as f:
    f.write('exported by make_exports.py\n')

series = {}
ds = pydicom.dcmread(os.path.join(OUT, 'study', 'DICOMDIR'))
for rec in ds.DirectoryRecordSequence:
    if rec.DirectoryRecordType == 'SERIES':
        series.setdefault(rec.SeriesInstanceUID, {'number': int(rec.SeriesNumber) if 'SeriesNumber' in rec and rec.SeriesNumber != '' else None, 'images': 0})
        current = rec.SeriesInstanceUID
    if rec.DirectoryRecordType == 'IMAGE':
        series[current]['images'] += 1
zpath = os.path.join(OUT, 'study.zip')
with zipfile.ZipFile(zpath, 'w', zipfile.ZIP_DEFLATED) as z:
    for root, _, files in os.walk(os.path.join(OUT, 'study')):
        for f in sorted(files):
            full = os.path.join(root, f)
            z.write(full, os.path.relpath(full, OUT))
with open(os.path.join(OUT, 'expected.json'), 'w') as f:
    json.dump({'pydicom': pydicom.__version__, 'series': series}, f, indent=1, sort_keys=True)
print(json.dumps(series, indent=1))
