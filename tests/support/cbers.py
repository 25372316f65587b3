"""CBERS-4 test inputs: INPE scene metadata with real published coefficients, generated pixels.

``MUX_SCENE`` holds the calibration-relevant values INPE published in the metadata of the real
scene CBERS_4_MUX_20201031_003_073_L2 (file ``..._BAND7.xml``, root ``prdf`` in namespace
``http://www.gisplan.com.br/xmlsat``; the elements landpulse reads, with the scene's values):
``absoluteCalibrationCoefficient`` band 5 1.51123, band 6 1.5762, band 7 1.55192, band 8 1.1761
(W m-2 sr-1 um-1 per DN), ``sunPosition/elevation`` 48.4687 deg, ``viewing/center``
2020-10-31T03:16:10.865. :func:`write_inpe_xml` writes a metadata file of the same structure
(only those elements, plus satellite and level); the pixel values the tests pair with it are
generated, not INPE's.
"""

from __future__ import annotations

from pathlib import Path

MUX_SCENE = {
    "scene_id": "CBERS_4_MUX_20201031_003_073_L2",
    "number": "4",
    "instrument": "MUX",
    "center": "2020-10-31T03:16:10.865",
    "elevation": 48.4687,
    "gains": {"5": 1.51123, "6": 1.5762, "7": 1.55192, "8": 1.1761},
    "level": "2",
}


def write_inpe_xml(folder: Path, scene: dict[str, object] = MUX_SCENE, *, band: str = "7",
                   drop: tuple[str, ...] = ()) -> Path:
    """Write ``<scene_id>_BAND<band>.xml`` in INPE's ``prdf`` layout; ``drop`` leaves elements out."""
    gains = scene["gains"]
    assert isinstance(gains, dict)
    coeffs = "\n".join(f'      <band name="{n}">{g}</band>' for n, g in gains.items())
    parts = {
        "satellite": f"""  <satellite>
    <name>CBERS</name>
    <number>{scene['number']}</number>
    <instrument channel="1">{scene['instrument']}</instrument>
  </satellite>""",
        "viewing": f"""  <viewing>
    <begin>{scene['center']}</begin>
    <center>{scene['center']}</center>
    <end>{scene['center']}</end>
  </viewing>""",
        "sunPosition": f"""    <sunPosition>
      <elevation>{scene['elevation']}</elevation>
      <sunAzimuth>156.117</sunAzimuth>
    </sunPosition>""",
        "absoluteCalibrationCoefficient": f"""    <absoluteCalibrationCoefficient>
{coeffs}
    </absoluteCalibrationCoefficient>""",
    }
    body = [parts["satellite"] if "satellite" not in drop else "", parts["viewing"] if "viewing" not in drop else "",
            "  <image>", f"    <level>{scene['level']}</level>",
            parts["sunPosition"] if "sunPosition" not in drop else "",
            parts["absoluteCalibrationCoefficient"] if "absoluteCalibrationCoefficient" not in drop else "",
            "  </image>"]
    text = ('<?xml version="1.0" encoding="UTF-8" standalone="no" ?>\n'
            '<prdf xmlns="http://www.gisplan.com.br/xmlsat" generator="G2T">\n' + "\n".join(body) + "\n</prdf>\n")
    path = folder / f"{scene['scene_id']}_BAND{band}.xml"
    path.write_text(text)
    return path
