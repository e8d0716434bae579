"""OneRoster bundles for the tests, built from CSV text into a zip."""

from __future__ import annotations

import io
import random
import zipfile

MODIFIED = "2026-08-20T10:00:00.000Z"


def bundle_zip(files: dict[str, str], *, version: str = "1.1", modes=None, bom=False) -> bytes:
    """Zip `files` (name without .csv → CSV text) with a manifest that marks
    each file bulk (or the mode given in `modes`) and every other file absent."""
    modes = modes or {}
    manifest = ["propertyName,value", "manifest.version,1.0", f"oneroster.version,{version}"]
    for key in ("academicSessions", "classes", "courses", "enrollments", "orgs", "users", "roles"):
        manifest.append(f"file.{key},{modes.get(key, 'bulk') if key in files else 'absent'}")
    manifest.append("source.systemName,Test SIS")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.csv", "\n".join(manifest) + "\n")
        for key, text in files.items():
            data = text.strip("\n").encode() + b"\n"
            archive.writestr(f"{key}.csv", (b"\xef\xbb\xbf" if bom else b"") + data)
    return buffer.getvalue()


ORGS = """
sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId
org-1,,,Hillside High,school,HH,
"""
SESSIONS = """
sourcedId,status,dateLastModified,title,type,startDate,endDate,parentSourcedId,schoolYear
term-1,,,Fall 2026,term,2026-09-01,2026-12-20,,2027
"""
COURSES = """
sourcedId,status,dateLastModified,schoolYearSourcedId,title,courseCode,grades,orgSourcedId,subjects,subjectCodes
course-bio,,,,Biology,BIO-101,10,org-1,,
"""
CLASSES = """
sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,classType,location,schoolSourcedId,termSourcedIds,subjects,subjectCodes,periods,metadata.room
class-1,,,Period 1,10,course-bio,BIO-101-P1,scheduled,Lab 2,org-1,term-1,,,1,Lab 2
class-2,,,Period 2,10,course-bio,BIO-101-P2,scheduled,Lab 2,org-1,term-1,,,2,
"""
USERS_11 = """
sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password,metadata.house
u-t1,,,true,org-1,teacher,tfrost,,Tara,Frost,,T1,tfrost@hillside.example,,,,,secret,
u-a1,,,true,org-1,aide,aide1,,Abe,Ide,,A1,aide1@hillside.example,,,,,,
u-s1,,,true,org-1,student,amara,,Amara,Okafor,,S1,amara@hillside.example,,,,10,,Red
u-s2,,,true,org-1,student,ben,,Ben,Carter,,S2,ben@hillside.example,,,,10,,Blue
u-s3,,,true,org-1,student,,,Chen,Li,,S3,,,,,10,,
u-p1,,,true,org-1,parent,pat,,Pat,Okafor,,P1,pat@home.example,,,,,,
"""
ENROLLMENTS = """
sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate
e-1,,,class-1,org-1,u-t1,teacher,true,2026-09-01,
e-2,,,class-1,org-1,u-a1,aide,false,,
e-3,,,class-1,org-1,u-s1,student,false,,
e-4,,,class-1,org-1,u-s2,student,false,,
e-5,,,class-1,org-1,u-s3,student,false,,
e-6,,,class-1,org-1,u-p1,parent,false,,
e-7,,,class-2,org-1,u-s1,student,false,,
"""

# OneRoster 1.2: users carry no role column; roles.csv does.
USERS_12 = """
sourcedId,status,dateLastModified,enabledUser,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password,userMasterIdentifier,resourceSourcedIds,preferredGivenName,preferredMiddleName,preferredFamilyName,primaryOrgSourcedId,pronouns,metadata.house
u-t1,active,2026-08-20T10:00:00Z,true,tfrost,,Tara,Frost,,T1,tfrost@hillside.example,,,,,,,,,,,org-1,she/her,
u-s1,active,2026-08-20T10:00:00Z,true,amara,,Amara,Okafor,,S1,amara@hillside.example,,,,10,,,,Mara,,,org-1,,Red
"""
ROLES_12 = """
sourcedId,status,dateLastModified,userSourcedId,roleType,role,beginDate,endDate,orgSourcedId,userProfileSourcedId
r-1,active,2026-08-20T10:00:00Z,u-t1,primary,teacher,,,org-1,
r-2,active,2026-08-20T10:00:00Z,u-s1,primary,student,,,org-1,
"""
ENROLLMENTS_12 = """
sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate
e-1,active,2026-08-20T10:00:00Z,class-1,org-1,u-t1,teacher,true,,
e-3,active,2026-08-20T10:00:00Z,class-1,org-1,u-s1,student,false,,
"""


def full_bundle(**overrides: str) -> dict[str, str]:
    files = {
        "orgs": ORGS,
        "academicSessions": SESSIONS,
        "courses": COURSES,
        "classes": CLASSES,
        "users": USERS_11,
        "enrollments": ENROLLMENTS,
    }
    files.update(overrides)
    return files


def shuffle_columns(text: str, seed: int = 7) -> str:
    """The same CSV with its columns in another order."""
    import csv

    rows = list(csv.reader(io.StringIO(text.strip("\n"))))
    order = list(range(len(rows[0])))
    random.Random(seed).shuffle(order)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in rows:
        writer.writerow([row[index] for index in order])
    return out.getvalue()


def large_bundle(*, users: int, class_size: int = 25) -> bytes:
    """`users` learners in classes of `class_size`, one teacher per class."""
    classes = max(1, users // class_size)
    class_rows = [
        f"class-{n},,,Section {n},10,course-bio,BIO-S{n},scheduled,,org-1,term-1,,,,"
        for n in range(classes)
    ]
    user_rows = []
    enrollment_rows = []
    for n in range(users):
        user_rows.append(
            f"u-{n},,,true,org-1,student,learner{n},,Given{n},Family{n},,,"
            f"learner{n}@big.example,,,,10,,"
        )
        enrollment_rows.append(f"e-{n},,,class-{n % classes},org-1,u-{n},student,false,,")
    for n in range(classes):
        user_rows.append(f"t-{n},,,true,org-1,teacher,teacher{n},,T{n},Teach,,,,,,,,,")
        enrollment_rows.append(f"et-{n},,,class-{n},org-1,t-{n},teacher,true,,")
    head = CLASSES.strip("\n").split("\n")[0]
    users_head = USERS_11.strip("\n").split("\n")[0]
    enroll_head = ENROLLMENTS.strip("\n").split("\n")[0]
    return bundle_zip(
        full_bundle(
            classes="\n".join([head, *class_rows]),
            users="\n".join([users_head, *user_rows]),
            enrollments="\n".join([enroll_head, *enrollment_rows]),
        )
    )
