"""Builds the DICOM test files of hulu-io/tests/data/dicom-* and their expected values.

Run with pydicom 3.0.2, numpy, Pillow, pylibjpeg + pylibjpeg-libjpeg in a venv:
    python make_kinds.py  (from this folder)
Every expected value written to expected.json comes from pydicom (+pylibjpeg), never from hulu.
"""
import copy, io, json, os, struct
import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian,
                         JPEGBaseline8Bit, generate_uid)
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.dirname(HERE)
FIX = os.path.join(DATA, '..', '..', '..', 'tests', 'fixtures', 'io', 'dicom')
RNG = np.random.default_rng(7)


def stats(arr):
    a = np.asarray(arr)
    flat = a.reshape(-1)
    return {"shape": list(a.shape), "dtype": str(a.dtype.newbyteorder('=')) if a.dtype.byteorder not in '=|' else str(a.dtype),
            "min": float(flat.min()), "max": float(flat.max()), "sum": float(flat.astype(np.float64).sum()),
            "first": [float(x) for x in flat[:8]]}


def base(rows, cols, ts):
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ts
    ds.file_meta.MediaStorageSOPClassUID = '1.2.840.10008.5.1.4.1.1.7'
    ds.SOPClassUID = '1.2.840.10008.5.1.4.1.1.7'
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = generate_uid()
    ds.Modality = 'OT'
    ds.SeriesInstanceUID = generate_uid()
    ds.Rows, ds.Columns = rows, cols
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = 'MONOCHROME2'
    return ds


def native_widths(out):
    """Explicit VR big and little endian, Bits Allocated 8/16/32, OB/OW/OL, float and double."""
    d = os.path.join(DATA, 'dicom-native-widths')
    rows, cols = 6, 7
    cases = [
        ('be_u8_ob.dcm', ExplicitVRBigEndian, 'u1', 'OB', 0),
        ('be_u8_ow.dcm', ExplicitVRBigEndian, 'u1', 'OW', 0),
        ('be_i16_ow.dcm', ExplicitVRBigEndian, 'i2', 'OW', 1),
        ('be_u32_ol.dcm', ExplicitVRBigEndian, 'u4', 'OL', 0),
        ('be_i32_ow.dcm', ExplicitVRBigEndian, 'i4', 'OW', 1),
        ('le_i32_ow.dcm', ExplicitVRLittleEndian, 'i4', 'OW', 1),
    ]
    for name, ts, dt, vr, signed in cases:
        ds = base(rows, cols, ts)
        info = np.iinfo(dt)
        arr = RNG.integers(info.min, info.max, size=(rows, cols), endpoint=True).astype(dt)
        bits = arr.itemsize * 8
        ds.BitsAllocated = ds.BitsStored = bits
        ds.HighBit = bits - 1
        ds.PixelRepresentation = signed
        be = ts == ExplicitVRBigEndian
        raw = arr.astype(arr.dtype.newbyteorder('>' if be else '<')).tobytes()
        if bits == 8 and vr == 'OW' and be:
            # pydicom: big endian 8-bit data in OW is swapped pairwise (PS3.5 7.1.1).
            raw = np.frombuffer(raw, dtype='<u2').byteswap().tobytes()
        ds.add_new(0x7FE00010, vr, raw)
        path = os.path.join(d, name)
        ds.save_as(path, little_endian=not be, implicit_vr=False, enforce_file_format=True)
        got = pydicom.dcmread(path).pixel_array
        assert (got == arr).all(), name
        out[name] = stats(got)
    for name, tag, vr, dt in [('le_float_of.dcm', 0x7FE00008, 'OF', '<f4'),
                              ('be_double_od.dcm', 0x7FE00009, 'OD', '>f8')]:
        be = dt[0] == '>'
        ds = base(rows, cols, ExplicitVRBigEndian if be else ExplicitVRLittleEndian)
        ds.BitsAllocated = 32 if dt[-1] == '4' else 64
        arr = (RNG.normal(size=(rows, cols)) * 1000).astype(dt)
        ds.add_new(tag, vr, arr.tobytes())
        path = os.path.join(d, name)
        ds.save_as(path, little_endian=not be, implicit_vr=False, enforce_file_format=True)
        got = pydicom.dcmread(path).pixel_array
        assert (got == arr).all(), name
        out[name] = stats(got)
    ds = pydicom.dcmread(os.path.join(d, 'rtdose_expb_1frame.dcm'))
    out['rtdose_expb_1frame.dcm'] = stats(ds.pixel_array)


def jpeg_colour(out):
    """JPEG baseline without JFIF/Adobe markers: Photometric Interpretation decides."""
    d = os.path.join(DATA, 'dicom-jpeg-colour')
    ds = pydicom.dcmread(os.path.join(d, 'SC_jpeg_no_color_transform.dcm'))
    out['SC_jpeg_no_color_transform.dcm'] = stats(ds.pixel_array)
    # A colourful 16x16 tile encoded by Pillow as YCbCr; the JFIF APP0 segment is removed.
    rgb = np.zeros((16, 16, 3), np.uint8)
    rgb[..., 0] = np.arange(16)[None, :] * 16
    rgb[..., 1] = np.arange(16)[:, None] * 16
    rgb[..., 2] = 200
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, 'JPEG', quality=95, subsampling=0)
    stream = buf.getvalue()
    assert stream[2:4] == b'\xff\xe0' and stream[6:10] == b'JFIF'
    seg = struct.unpack('>H', stream[4:6])[0]
    stream = stream[:2] + stream[4 + seg:]
    ds = base(16, 16, JPEGBaseline8Bit)
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = 'YBR_FULL'
    ds.PlanarConfiguration = 0
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.PixelData = pydicom.encaps.encapsulate([stream])
    ds['PixelData'].VR = 'OB'
    path = os.path.join(d, 'ybr_full_no_jfif.dcm')
    ds.save_as(path, enforce_file_format=True)
    ds = pydicom.dcmread(path)
    got = ds.pixel_array  # pylibjpeg: YCbCr -> RGB for YBR_FULL
    out['ybr_full_no_jfif.dcm'] = stats(got)


def vr_mode(out):
    """The file meta names one VR mode, the data set uses the other."""
    d = os.path.join(DATA, 'dicom-vr-mode')
    ds = pydicom.dcmread(os.path.join(d, 'meta_implicit_data_explicit.dcm'))
    out['meta_implicit_data_explicit.dcm'] = stats(ds.pixel_array)
    ds = pydicom.dcmread(os.path.join(FIX, 'CT_small.dcm'))
    path = os.path.join(d, 'meta_explicit_data_implicit.dcm')
    # Write a proper file: rebuild with pydicom writing implicit data under an explicit meta.
    ds2 = copy.deepcopy(ds)
    ds2.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    with open(path, 'wb') as f:
        f.write(b'\0' * 128 + b'DICM')
        meta = io.BytesIO()
        pydicom.filewriter.write_file_meta_info(pydicom.filebase.DicomFileLike(meta), ds2.file_meta)
        f.write(meta.getvalue())
        body = io.BytesIO()
        fb = pydicom.filebase.DicomFileLike(body)
        fb.is_little_endian, fb.is_implicit_VR = True, True
        pydicom.filewriter.write_dataset(fb, ds2)
        f.write(body.getvalue())
    got = pydicom.dcmread(path)
    assert got.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    out['meta_explicit_data_implicit.dcm'] = stats(got.pixel_array)


def without_part10(out):
    """Bare data sets: no preamble, no DICM, no file meta."""
    d = os.path.join(DATA, 'dicom-without-part10')
    ds = pydicom.dcmread(os.path.join(d, 'IM0001'), force=True)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    out['IM0001'] = stats(ds.pixel_array)
    src = pydicom.dcmread(os.path.join(FIX, 'MR_small.dcm'))
    for name, implicit in [('IMPLICIT1', True), ('EXPLICIT1', False)]:
        body = io.BytesIO()
        fb = pydicom.filebase.DicomFileLike(body)
        fb.is_little_endian, fb.is_implicit_VR = True, implicit
        pydicom.filewriter.write_dataset(fb, src)
        with open(os.path.join(d, name), 'wb') as f:
            f.write(body.getvalue())
        ds = pydicom.dcmread(os.path.join(d, name), force=True)
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
        out[name] = stats(ds.pixel_array)


def enhanced(out):
    """Enhanced CT: per-frame rescale, window, position; frames stored out of spatial order."""
    d = os.path.join(DATA, 'dicom-enhanced')
    truth = np.load('/work/shared/bugs/enhanced-ct-per-frame-rescale/truth_hu.npy')
    ds = pydicom.dcmread(os.path.join(d, 'perframe.dcm'))
    out['perframe.dcm'] = {'hu': [stats(f) for f in truth], 'order': [0, 1, 2]}
    # The same file with frames stored at z = 10, 0, 5 and a window per frame.
    ds = pydicom.dcmread(os.path.join(d, 'perframe.dcm'))
    zs = [10.0, 0.0, 5.0]
    windows = [(40.0, 400.0), (-600.0, 1500.0), (400.0, 1800.0)]
    for item, z, (c, w) in zip(ds.PerFrameFunctionalGroupsSequence, zs, windows):
        item.PlanePositionSequence[0].ImagePositionPatient = [0.0, 0.0, z]
        voi = Dataset()
        voi.WindowCenter, voi.WindowWidth = c, w
        item.FrameVOILUTSequence = [voi]
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    path = os.path.join(d, 'perframe_unordered.dcm')
    ds.save_as(path, enforce_file_format=True)
    ds = pydicom.dcmread(path)
    stored = ds.pixel_array.astype(np.float64)
    hu, order, win = [], [], []
    for k, item in enumerate(ds.PerFrameFunctionalGroupsSequence):
        pvt = item.PixelValueTransformationSequence[0]
        hu.append(stats(stored[k] * float(pvt.RescaleSlope) + float(pvt.RescaleIntercept)))
        v = item.FrameVOILUTSequence[0]
        win.append([float(v.WindowCenter), float(v.WindowWidth)])
    pos = [float(item.PlanePositionSequence[0].ImagePositionPatient[2]) for item in ds.PerFrameFunctionalGroupsSequence]
    o = np.array(ds.SharedFunctionalGroupsSequence[0].PlaneOrientationSequence[0].ImageOrientationPatient, float)
    normal = np.cross(o[:3], o[3:])
    along = [float(np.dot([0, 0, z], normal)) for z in pos]
    out['perframe_unordered.dcm'] = {'hu': hu, 'order': [int(i) for i in np.argsort(along, kind='stable')], 'window': win}
    # One frame tilted: a mixed-orientation stack.
    ds = pydicom.dcmread(os.path.join(d, 'perframe.dcm'))
    tilt = Dataset()
    tilt.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 0.8, -0.6]
    ds.PerFrameFunctionalGroupsSequence[1].PlaneOrientationSequence = [tilt]
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.save_as(os.path.join(d, 'mixed_orientation.dcm'), enforce_file_format=True)


def main():
    out = {}
    native_widths(out)
    jpeg_colour(out)
    vr_mode(out)
    without_part10(out)
    enhanced(out)
    with open(os.path.join(DATA, 'dicom-expected.json'), 'w') as f:
        json.dump({"pydicom": pydicom.__version__, "files": out}, f, indent=1, sort_keys=True)


if __name__ == '__main__':
    main()
