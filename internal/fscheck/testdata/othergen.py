"""Writes a small archive of GMOS frames with astropy: data from another generator than
agentd's own (package sample), for the calibration cache and preview check.

    python3 othergen.py ROOT [NIGHTS]

Per night and site (GMOS-N, GMOS-S): biases in two binnings, twilight flats and imaging
science in two filters, a long-slit setup (GCAL flats, arcs, science spectra), one frame
QA-failed and one engineering frame; three image extensions per frame, in three pixel types
(uint16 through BZERO, int32, float32 with NaNs), some files bzip2-compressed. Prints a JSON
list of what it wrote: path, instrument, obstype, obsclass, spectroscopy, binning.
"""

import bz2
import datetime
import json
import os
import sys

import numpy as np
from astropy.io import fits

ROOT = sys.argv[1]
NIGHTS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
START = datetime.datetime(2021, 3, 1, 1, 30)

AMPS = {
    "N": ["e2v 10031-23-05, right", "e2v 10031-01-03, right", "e2v 10031-18-04, left"],
    "S": ["BI5-36-4k-2, 3", "BI11-33-4k-1, 7", "BI12-34-4k-1, 10"],
}
DETTYPE = {"N": "SDSU II e2v DD CCD42-90", "S": "S10892"}

# (obstype, obsclass, object, filter1, filter2, grating, centwave nm, mask, binning, count)
SETUPS = [
    ("BIAS", "dayCal", "Bias", "open1-6", "open2-8", "MIRROR", None, "None", 1, 4),
    ("BIAS", "dayCal", "Bias", "open1-6", "open2-8", "MIRROR", None, "None", 2, 4),
    ("OBJECT", "dayCal", "Twilight", "g_G0301", "open2-8", "MIRROR", None, "None", 2, 3),
    ("OBJECT", "dayCal", "Twilight", "i_G0302", "open2-8", "MIRROR", None, "None", 1, 3),
    ("OBJECT", "science", "NGC 253", "g_G0301", "open2-8", "MIRROR", None, "None", 2, 4),
    ("OBJECT", "science", "NGC 253", "i_G0302", "open2-8", "MIRROR", None, "None", 1, 4),
    ("FLAT", "partnerCal", "GCALflat", "open1-6", "open2-8", "R400+_G5305", 700.0, "1.0arcsec", 2, 2),
    ("ARC", "dayCal", "CuAr", "open1-6", "open2-8", "R400+_G5305", 700.0, "1.0arcsec", 2, 1),
    ("OBJECT", "science", "SN 2021abc", "open1-6", "open2-8", "R400+_G5305", 700.0, "1.0arcsec", 2, 3),
]


def image(kind, n, shape):
    """Pixels of one extension: a gradient with some structure, in one of three types."""
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]]
    base = 1000 + 40 * x + 25 * y + 300 * np.sin((x + n) / 5.0)
    if kind == 0:
        return base.astype(np.uint16)  # astropy writes BITPIX 16 with BZERO 32768
    if kind == 1:
        return base.astype(np.int32)
    data = base.astype(np.float32)
    data[::7, ::11] = np.nan
    return data


def frame(site, night, num, setup, when, qa, program):
    obstype, obsclass, obj, f1, f2, grating, cw, mask, binning, _ = setup
    inst = "GMOS-" + site
    phu = fits.Header()
    phu["TELESCOP"] = "Gemini-North" if site == "N" else "Gemini-South"
    phu["INSTRUME"] = inst
    phu["OBJECT"] = obj
    phu["OBSTYPE"] = obstype
    phu["OBSCLASS"] = obsclass
    phu["GEMPRGID"] = program
    obsid = program + "-" + str(1 + num % 7)
    phu["OBSID"] = obsid
    phu["DATALAB"] = "%s-%03d" % (obsid, num)
    phu["DATE-OBS"] = when.strftime("%Y-%m-%d")
    phu["TIME-OBS"] = when.strftime("%H:%M:%S.%f")[:-3]
    phu["UT"] = phu["TIME-OBS"]
    phu["RA"] = 11.888
    phu["DEC"] = -25.288
    phu["EXPTIME"] = 0.0 if obstype == "BIAS" else 60.0
    phu["FILTER1"] = f1
    phu["FILTER2"] = f2
    phu["GRATING"] = grating
    if cw is not None:
        phu["CENTWAVE"] = cw
        phu["GRWLEN"] = cw
    phu["MASKNAME"] = mask
    phu["MASKTYP"] = 1 if mask != "None" else 0
    phu["DETTYPE"] = DETTYPE[site]
    phu["AMPINTEG"] = 5000
    phu["RAWGEMQA"] = qa
    phu["RAWPIREQ"] = "YES" if qa == "USABLE" else "NO"
    phu["RELEASE"] = (when + datetime.timedelta(days=365)).strftime("%Y-%m-%d")
    if obstype == "FLAT":
        phu["GCALLAMP"] = "QH"
        phu["GCALSHUT"] = "OPEN"
    hdus = [fits.PrimaryHDU(header=phu)]
    shape = (48 // binning, 32 // binning)
    for i, amp in enumerate(AMPS[site]):
        ext = fits.ImageHDU(data=image((num + i) % 3, num, shape), name="SCI")
        ext.header["CCDSUM"] = "%d %d" % (binning, binning)
        ext.header["AMPNAME"] = amp
        ext.header["GAIN"] = 1.6
        ext.header["DETSEC"] = "[%d:%d,1:48]" % (1 + 32 * i, 32 * (i + 1))
        hdus.append(ext)
    return fits.HDUList(hdus)


def main():
    written = []
    for night in range(NIGHTS):
        day = START + datetime.timedelta(days=night)
        ymd = day.strftime("%Y%m%d")
        for site in ("N", "S"):
            num = 0
            when = day
            for setup in SETUPS:
                for k in range(setup[-1]):
                    num += 1
                    when = when + datetime.timedelta(minutes=17)
                    qa = "USABLE"
                    program = "G%s-2021A-Q-%d" % (site, 10 + SETUPS.index(setup))
                    if setup[1] == "science" and k == 0 and night == 1:
                        qa = "BAD"  # QA Fail
                    if setup[0] == "BIAS" and k == 1 and night == 0:
                        program = "G%s-ENG%s" % (site, ymd)  # engineering
                    hdul = frame(site, night, num, setup, when, qa, program)
                    name = "%s%sS%04d.fits" % (site, ymd, num)
                    rel = os.path.join(ymd[:4], ymd, name)
                    path = os.path.join(ROOT, rel)
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                    if num % 5 == 0:
                        rel += ".bz2"
                        hdul.writeto(path + ".tmp", overwrite=True)
                        with open(path + ".tmp", "rb") as f, bz2.open(path + ".bz2", "wb") as out:
                            out.write(f.read())
                        os.remove(path + ".tmp")
                    else:
                        hdul.writeto(path, overwrite=True)
                    old = (when - datetime.datetime(1970, 1, 1)).total_seconds()
                    os.utime(os.path.join(ROOT, rel), (old, old))
                    written.append({"path": rel, "instrument": "GMOS-" + site, "obstype": setup[0],
                                    "obsclass": setup[1], "spectroscopy": setup[6] is not None,
                                    "binning": setup[8]})
    json.dump(written, sys.stdout)


main()
