"""`synthetic`: generated clinical notes with exact gold spans, for demos, tests and pretraining.

Why generate: a model that only ever sees one template learns the template. These notes vary
what a model must not rely on and keep what it must learn, the content. Per note the generator
draws a note type (H&P/consult, SOAP progress, discharge summary, operative, radiology, ED,
letter, other), a header style (a third each: schema headers in upper case; other words or title
case, some unknown to the schema; no headers, as run-on dictation or bare paragraphs), a layout,
which optional sections appear and in what clinically plausible order, list forms (numbered,
dashed, one a line, comma-separated, prose) and, for each section, frames filled from
randomised vocabularies. How varied: 98 drug names with their doses, 24 route and 48 frequency
phrasings; 30 chronic conditions, 29 presenting problems (63 phrasings, 58 diagnoses), 20
operations in the history, 20 allergens; 105 exam findings over 11 body systems, 41 review-of-
systems symptoms, 18 labs and 11 study results; 11 operations and 8 imaging studies with their
findings; 126 schema and 146 other header words for 39 kinds of header; 13 opening and 33
detail frames for the history (69 slot words), 26 plan, 11 hospital-course, 28 social-history
and 11 family-history frames, most with inline alternatives; 61 vital-sign forms; ages as
"45-year-old", "45 y/o", "45 yo", "6-month-old"; temperatures, weights and heights in either
unit system. Measured on 1,000 notes (seed 0): about half of all sentences are distinct, notes
average about 240 words (2% over 500), and generating them takes about 0.4 s.

Contract: ``read(path=None, *, n, seed)`` yields ``n`` notes; note ``i`` depends only on
``(seed, i)``, so a smaller ``n`` gives a prefix. Every section and entity field in the text has
a gold span (source "gold") following the silver labelers' conventions: a section span runs from
the first to the last non-space character of its content, header words never inside; entity
spans carry ``attrs["value"]`` from :mod:`chartlnn.labeling.normalize` and the schema unit, the
parts of one drug share ``attrs["group"]``, drugs and allergens carry ``attrs["negated"]``.
``meta["header_spans"]`` lists the ``[start, end]`` of every header (words and colon);
``meta["header_style"]`` and ``meta["layout"]`` say how the note was written. The text holds no
realistic identifiers: doctors are "Dr. X", times are relative ("3 years ago").
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from chartlnn.labeling import normalize as norm
from chartlnn.notes import GOLD, Note, Span

UNITS = {"age": "years", "bp_systolic": "mmHg", "bp_diastolic": "mmHg", "heart_rate": "/min",
         "resp_rate": "/min", "temperature": "Cel", "spo2": "%", "weight": "kg", "height": "cm"}
"""The default schema's unit per entity field (a test checks they agree)."""


def _split(text: str, sep: str = "|") -> list[str]:
    return [item.strip() for item in text.split(sep) if item.strip()]


def _table(text: str, sep: str) -> list[str]:
    """The entries of a table written as running text (a line break is a space)."""
    return _split(text.replace("\n", " "), sep)


def _rows(text: str) -> list[list[str]]:
    """A table written one row a line (an indented line continues the row), cells separated by
    " | "; an empty last cell may be left out."""
    lines = text.strip().replace("\n    ", " ").splitlines()
    return [[cell.strip() for cell in (line + " ").split(" | ")] for line in lines]


# --- vocabularies ------------------------------------------------------------------------------

# name (_ for a space), doses (;), dose unit, route kind, frequency kinds (see _ROUTES, _FREQS)
DRUGS = {fields[0].replace("_", " "): [field.strip("-") for field in fields[1:]]
         for fields in (entry.split() for entry in _table("""
lisinopril 5;10;20;40 mg o d, amlodipine 2.5;5;10 mg o d, losartan 25;50;100 mg o d, Norvasc 5;10 mg o d,
hydrochlorothiazide 12.5;25 mg o d, metoprolol 25;50;100 mg o b, carvedilol 3.125;6.25;12.5;25 mg o b, furosemide
20;40;80 mg o db, spironolactone 25;50 mg o d, atorvastatin 10;20;40;80 mg o dn, simvastatin 20;40 mg o n,
pravastatin 20;40 mg o n, rosuvastatin 5;10;20 mg o d, aspirin 81;325 mg o d, clopidogrel 75 mg o d, warfarin
2.5;5;7.5 mg o dn, apixaban 2.5;5 mg o b, rivaroxaban 15;20 mg o d, digoxin 0.125;0.25 mg o d, diltiazem
120;180;240 mg o d, isosorbide_mononitrate 30;60 mg o d, nitroglycerin 0.4 mg l p, metformin 500;850;1000 mg o b,
glipizide 5;10 mg o db, sitagliptin 50;100 mg o d, insulin_glargine 10;18;24;30 units s n, insulin_lispro 4;6;8
units s m, levothyroxine 25;50;75;88;100;112 mcg o d, omeprazole 20;40 mg o d, pantoprazole 40 mg ov d, famotidine
20;40 mg o b, ondansetron 4;8 mg ov hp, docusate 100 mg o b, senna 8.6;17.2 mg o n, acetaminophen 325;500;650;1000
mg o hp, ibuprofen 400;600;800 mg o tp, naproxen 250;500 mg o b, tramadol 50 mg o p, oxycodone 5;10 mg o hp,
morphine 2;4 mg v hp, gabapentin 100;300;600 mg o tn, cyclobenzaprine 5;10 mg o tn, prednisone 10;20;40 mg o d,
albuterol 2 puffs i p, fluticasone 2 sprays n d, tiotropium 18 mcg i d, montelukast 10 mg o n, sertraline
25;50;100 mg o d, fluoxetine 20;40 mg o d, escitalopram 10;20 mg o d, citalopram 20 mg o d, bupropion 150;300 mg o
d, trazodone 50;100 mg o n, alprazolam 0.25;0.5 mg o tp, lorazepam 0.5;1 mg ov p, quetiapine 25;50 mg o n,
donepezil 5;10 mg o n, tamsulosin 0.4 mg o n, finasteride 5 mg o d, allopurinol 100;300 mg o d, colchicine 0.6 mg
o db, alendronate 70 mg o w, vitamin_D 1000;2000;50,000 units o dw, ferrous_sulfate 325 mg o dt,
potassium_chloride 20;40 mEq o db, levetiracetam 500;750 mg o b, sumatriptan 50;100 mg o p, amoxicillin 500;875 mg
o bt, azithromycin 250;500 mg ov d, doxycycline 100 mg o b, cephalexin 500 mg o q, ciprofloxacin 250;500 mg o b,
levofloxacin 500;750 mg ov d, nitrofurantoin 100 mg o b, ceftriaxone 1;2 g v d, vancomycin 1;1.25 g v h, Zosyn
3.375;4.5 g v h, metronidazole 500 mg ov t, heparin 5000 units s h, enoxaparin 40 mg s d, hydralazine 25;50 mg o
t, meclizine 12.5;25 mg o tp, loratadine 10 mg o d, latanoprost 1 drop e n, timolol 1 drop e b, hydrocortisone - -
t b, nicotine 14;21 mg d d, Lasix 20;40 mg o d, Coumadin 2.5;5 mg o n, Tylenol 500;650 mg o hp, Zoloft 50;100 mg o
d, Lipitor 20;40 mg o n, Synthroid 50;75 mcg o d, Plavix 75 mg o d, Protonix 40 mg o d, Zofran 4 mg ov p, Flomax
0.4 mg o n, Eliquis 5 mg o b""", ", "))}
_ROUTES = {"o": _split("p.o.|PO|po|by mouth|orally"), "v": _split("IV|intravenously|I.V."),
           "s": _split("subcutaneously|subq|SQ|subcutaneous"), "i": _split("inhaled|via inhaler|by inhalation"),
           "l": _split("sublingually|SL"), "t": _split("topically"), "d": _split("transdermal|transdermally"),
           "e": _split("in each eye|in both eyes"), "n": _split("in each nostril|intranasally")}
_FREQS = {"d": _split("daily|once daily|once a day|q.d.|every day|every morning|q.a.m.|QD"),
          "b": _split("b.i.d.|BID|bid|twice a day|twice daily|2 times a day"),
          "t": _split("t.i.d.|TID|three times a day|three times daily"),
          "q": _split("q.i.d.|QID|four times a day|four times daily"),
          "h": _split("every 6 hours|q.6h.|q6h|every 8 hours|q.8h.|every 12 hours|q.12h.|every 4 hours"),
          "n": _split("at bedtime|q.h.s.|nightly|at night|QHS"),
          "p": _split("as needed|p.r.n.|PRN|q.4-6h. p.r.n.|every 4-6 hours as needed|q.6h. p.r.n."
                     "|every 6 hours as needed|daily as needed"),
          "m": _split("with meals|three times daily with meals"), "w": _split("weekly|once a week|once weekly")}

# condition/abbreviation: drugs that treat it
CONDITIONS = [(*(_split(head, "/") + [""])[:2], _split(drugs, ","))
              for head, drugs in (entry.split(":") for entry in _table("""
hypertension/HTN:lisinopril,amlodipine,losartan,hydrochlorothiazide,Norvasc; type 2 diabetes
mellitus/DM:metformin, glipizide,insulin glargine,sitagliptin;
hyperlipidemia/HLD:atorvastatin,simvastatin,rosuvastatin,Lipitor; coronary artery
disease/CAD:aspirin,clopidogrel,metoprolol,isosorbide mononitrate,Plavix; congestive heart failure/CHF:
furosemide,carvedilol,spironolactone,Lasix; atrial fibrillation/AFib:apixaban,warfarin,diltiazem,Coumadin,Eliquis;
chronic obstructive pulmonary disease/COPD:tiotropium,albuterol; asthma:albuterol,montelukast; gastroesophageal
reflux disease/GERD:omeprazole,pantoprazole,famotidine,Protonix; hypothyroidism:levothyroxine,Synthroid; chronic
kidney disease stage 3/CKD:; osteoarthritis/OA:acetaminophen,naproxen,Tylenol;
depression:sertraline,fluoxetine,escitalopram,bupropion, Zoloft; anxiety:escitalopram,alprazolam; benign prostatic
hyperplasia/BPH:tamsulosin,finasteride,Flomax; obstructive sleep apnea/OSA:; gout:allopurinol,colchicine;
osteoporosis:alendronate,vitamin D; migraine headaches:sumatriptan; seizure disorder:levetiracetam; iron
deficiency anemia:ferrous sulfate; insomnia:trazodone; glaucoma:latanoprost,timolol; allergic
rhinitis:loratadine,fluticasone; dementia:donepezil,quetiapine; peripheral neuropathy:gabapentin; chronic low back
pain:cyclobenzaprine,tramadol; history of DVT:apixaban,rivaroxaban; morbid obesity:; tobacco use disorder:nicotine
""", ";"))]
# complaints | diagnoses | treating drugs | k: also seen in children
CASES = [(_split(row[0], "/"), _split(row[1], ";"), _split(row[2], ","), row[3:] == ["k"]) for row in _rows("""
chest pain/substernal chest pressure/CP | atypical chest pain;chest pain, rule out acute coronary syndrome |
    aspirin,nitroglycerin
shortness of breath/SOB/dyspnea on exertion | CHF exacerbation;COPD exacerbation | furosemide,albuterol,prednisone
cough and fever/productive cough/fever and cough | community-acquired pneumonia;acute bronchitis |
    azithromycin,ceftriaxone, doxycycline,levofloxacin | k
abdominal pain/right lower quadrant pain | acute appendicitis;gastroenteritis | ondansetron,morphine | k
right upper quadrant pain/postprandial abdominal pain | symptomatic cholelithiasis;acute cholecystitis |
    ondansetron,Zosyn
nausea and vomiting/N/V | viral gastroenteritis;dehydration | ondansetron,Zofran | k
headache/severe headache | migraine;tension-type headache | sumatriptan,acetaminophen | k
dizziness/vertigo | benign paroxysmal positional vertigo;orthostatic hypotension | meclizine
low back pain/back pain | lumbar strain;lumbar radiculopathy | cyclobenzaprine,naproxen,ibuprofen
dysuria/burning with urination | urinary tract infection;acute cystitis | nitrofurantoin,ciprofloxacin,cephalexin
syncope/passing out/a syncopal episode | vasovagal syncope;syncope, etiology unclear | aspirin
palpitations/racing heart | paroxysmal atrial fibrillation;sinus tachycardia | metoprolol,diltiazem
leg swelling/left calf pain and swelling | left lower extremity deep venous thrombosis;cellulitis |
    apixaban,enoxaparin, cephalexin
rash/itchy rash | contact dermatitis;urticaria | hydrocortisone,loratadine | k
knee pain/right knee pain | osteoarthritis of the knee;medial meniscus tear | naproxen,acetaminophen
sore throat/throat pain | streptococcal pharyngitis;viral pharyngitis | amoxicillin,ibuprofen | k
fatigue/tiredness | iron deficiency anemia;hypothyroidism | ferrous sulfate,levothyroxine
generalized weakness/weakness | acute kidney injury;hypokalemia | potassium chloride
confusion/altered mental status | delirium secondary to urinary tract infection;hyponatremia | ceftriaxone
a fall/fall at home | mechanical fall;left hip contusion | acetaminophen,Tylenol
elevated blood sugars/high sugars | uncontrolled type 2 diabetes mellitus;hyperglycemia | insulin
    glargine,metformin
high blood pressure/elevated BP | uncontrolled hypertension;hypertensive urgency |
    amlodipine,lisinopril,hydralazine
depressed mood/low mood | major depressive disorder;adjustment disorder with depressed mood |
    sertraline,escitalopram
wheezing/wheezing and cough | asthma exacerbation;reactive airway disease | albuterol,prednisone | k
ear pain/left ear pain | acute otitis media;otitis externa | amoxicillin,acetaminophen | k
black stools/melena | upper GI bleed;peptic ulcer disease | pantoprazole,Protonix
flank pain/right flank pain | nephrolithiasis;pyelonephritis | ondansetron,oxycodone,ceftriaxone
epigastric pain/heartburn | gastritis;GERD | omeprazole,famotidine
fever/high fevers | viral syndrome;fever without source | acetaminophen,ibuprofen | k
""")]
SURGERIES = _split("appendectomy|laparoscopic cholecystectomy|cholecystectomy|tonsillectomy|hysterectomy|cesarean "
                   "section|right total knee replacement|left total hip replacement|CABG|cardiac catheterization "
                   "with stent placement|inguinal hernia repair|carpal tunnel release|cataract surgery|lumbar "
                   "laminectomy|rotator cuff repair|tubal ligation|thyroidectomy|partial colectomy|ORIF of the "
                   "right wrist|knee arthroscopy")
ALLERGENS = _split("penicillin|sulfa|codeine|morphine|latex|shellfish|iodinated "
                   "contrast|aspirin|amoxicillin|cephalexin|erythromycin|ciprofloxacin|peanuts|bee "
                   "stings|NSAIDs|ACE inhibitors|tape|eggs|ibuprofen|Bactrim")
REACTIONS = _split("rash|hives|anaphylaxis|throat swelling|nausea|itching|GI upset|angioedema|swelling")
SYMPTOMS = _split("fever|chills|nausea|vomiting|diarrhea|chest pain|shortness of "
                  "breath|SOB|cough|headache|dizziness|palpitations|abdominal pain|dysuria|weight loss|night "
                  "sweats|leg swelling|fatigue|rash|blurred vision|numbness|constipation|hematuria")
# body system (sub-header variants) | normal findings | abnormal findings; a finding joins 2-4 of them
EXAM = _rows("""
GENERAL/CONSTITUTIONAL | alert|in no acute distress|well-appearing|comfortable|pleasant and
    cooperative|well-nourished| resting comfortably in bed | in mild distress due to pain|ill-appearing but
    nontoxic|diaphoretic|lethargic but arousable
HEENT/HEAD AND NECK | normocephalic, atraumatic|PERRLA|EOMI|oropharynx clear|mucous membranes moist|sclerae
    anicteric| TMs clear bilaterally|conjunctivae pink | dry mucous membranes|pharynx erythematous with tonsillar
    exudate|left TM bulging and erythematous|scleral icterus
NECK | supple|no JVD|no lymphadenopathy|no thyromegaly|no carotid bruits|full range of motion | JVD to the angle
    of the jaw|tender anterior cervical lymphadenopathy|stiffness with flexion
LUNGS/CHEST/RESPIRATORY | clear to auscultation bilaterally|no wheezes|no rales or rhonchi|good air
    movement|normal respiratory effort|breath sounds equal bilaterally | crackles at the right base|scattered
    expiratory wheezes|decreased breath sounds at the bases|rhonchi that clear with cough|accessory muscle use
HEART/CARDIOVASCULAR/CV | regular rate and rhythm|no murmurs, rubs, or gallops|S1, S2 normal|no S3 or
    S4|nondisplaced PMI | irregularly irregular rhythm|II/VI systolic murmur at the left sternal
    border|tachycardic, regular rhythm|distant heart sounds
ABDOMEN/GI | soft|nontender|nondistended|normal bowel sounds|no hepatosplenomegaly|no rebound or guarding|no
    masses | tender in the right lower quadrant with guarding|mild epigastric tenderness|right upper quadrant
    tenderness, positive Murphy sign|obese, diffusely tender|hypoactive bowel sounds
EXTREMITIES | no clubbing, cyanosis, or edema|warm and well perfused|2+ distal pulses|no calf tenderness | trace
    bilateral pedal edema|2+ pitting edema to the knees|left calf swollen and tender|erythema and warmth over the
    right shin
NEURO/NEUROLOGIC | alert and oriented x3|cranial nerves II-XII intact|strength 5/5 throughout|sensation intact to
    light touch|normal gait|reflexes 2+ and symmetric|nonfocal | oriented to person only|decreased sensation in
    both feet|left pronator drift|unsteady gait
SKIN | warm and dry|no rashes|no lesions|normal turgor | erythematous papular rash over both forearms|small
    abrasion over the left elbow|urticarial wheals on the trunk|cool and clammy
PSYCH/PSYCHIATRIC | normal mood and affect|good eye contact|judgment and insight intact|calm and cooperative |
    flat affect|anxious but appropriate|tearful during the interview
MUSCULOSKELETAL/BACK | full range of motion|no joint swelling|no spinal tenderness|normal muscle bulk | tenderness
    over the lumbar paraspinal muscles|positive straight leg raise on the left|medial joint line tenderness of the
    right knee
""")
ROS = [(system, _split(symptoms, ";"))
       for system, symptoms in (entry.split(":") for entry in _table("""
CONSTITUTIONAL:fever;chills;weight loss;night sweats;fatigue, HEENT:headache;vision changes;sore throat;ear
pain;congestion, CARDIOVASCULAR:chest pain;palpitations;orthopnea;leg swelling, RESPIRATORY:cough;shortness of
breath;wheezing;hemoptysis, GI:nausea;vomiting;diarrhea;constipation;abdominal pain;melena,
GU:dysuria;hematuria;frequency;urgency, MUSCULOSKELETAL:joint pain;back pain;myalgias,
NEUROLOGIC:weakness;numbness;dizziness;syncope, PSYCHIATRIC:depression;anxiety;sleep problems,
SKIN:rash;itching;new lesions""", ","))]
# lab low-high/decimals
LABS = [(m[1], float(m[2]), float(m[3]), int(m[4]))
        for m in re.finditer(r"([\w ]+?) ([\d.]+)-([\d.]+)/(\d)(?:, |$)",
        "WBC 4-16/1, hemoglobin 8.5-16.5/1, platelets 120-420/0, sodium 128-146/0, potassium 3.1-5.4/1, chloride "
        "96-110/0, bicarbonate 19-30/0, BUN 8-42/0, creatinine 0.6-2.3/1, glucose 78-290/0, INR 0.9-3.1/1, TSH "
        "0.4-7.5/2, hemoglobin A1c 5.4-10.8/1, lactate 0.7-3.9/1, lipase 18-420/0, troponin 0.01-0.09/2, BNP "
        "40-1400/0, ALT 12-90/0")]
STUDIES = _split("Chest x-ray showed [no acute cardiopulmonary process;a right lower lobe infiltrate;mild "
                 "pulmonary vascular congestion].|EKG showed [normal sinus rhythm without acute ST changes;atrial "
                 "fibrillation with controlled ventricular response;sinus tachycardia;nonspecific T-wave "
                 "changes].|CT of the head was negative for acute intracranial abnormality.|Urinalysis was "
                 "[positive for leukocyte esterase and nitrites;unremarkable].|CT of the abdomen and pelvis showed "
                 "[no acute process;an inflamed appendix;a 5 mm right ureteral stone].|Ultrasound of the right "
                 "upper quadrant showed cholelithiasis.|Venous Doppler of the left leg showed an occlusive "
                 "popliteal thrombus.|Echocardiogram showed an ejection fraction of [35;45;60]%.|Rapid strep test "
                 "was [positive;negative].|Blood cultures are pending.|Stool guaiac was positive.")
SOCIAL = [_split(group) for group in (
    "Denies tobacco use.|Never smoker.|Smokes 1 pack per day.|Former smoker, quit {n} years ago.|{n2} pack-year "
    "smoking history.|Smokes half a pack a day.|Quit smoking {n} years ago.",
    "Drinks alcohol socially.|Denies alcohol use.|Drinks 2-3 beers on weekends.|Occasional glass of wine.|No "
    "alcohol.|Remote history of heavy alcohol use, sober for {n} years.",
    "Denies illicit drug use.|No IV drug use.|Occasional marijuana use.|No recreational drugs.",
    "Works as [a teacher;a mechanic;a nurse;an accountant;a truck driver;an electrician;a farmer;a cashier;an "
    "engineer;a chef].|Retired [teacher;police officer;hairdresser;office manager;construction worker].|Currently "
    "unemployed.|Is a full-time student.|On disability.",
    "Lives with {his} [spouse;wife;husband;partner].|Lives alone.|Lives with {his} daughter.|Lives in an assisted "
    "living facility.|Married with {k} children.|Lives at home with family.")]
FAMILY = _split("Mother with {c}.|Father died of {c} at age {n}.|Father with MI at age {n}.|[Brother;Sister] with "
                "{c}.|Positive for {c} in {his} mother.|No family history of {c}.|Mother died at {n} years old of "
                "{c}.|Both parents had {c}.|Family history is noncontributory.|No known family history of "
                "cancer.|Maternal grandmother with {c}.")
FAMILY_CONDITIONS = _split("hypertension|diabetes|coronary artery disease|breast cancer|colon cancer|stroke|an MI"
                          "|Alzheimer disease|lung cancer|HTN|DM|prostate cancer|thyroid disease")
PLANS = _split("Continue [current;home;all other] medications.|Follow up with Dr. X in {n} "
               "[weeks;days;months].|Return precautions were [discussed;reviewed with the patient;given].|Recheck "
               "{lab} in {n} days.|[Low-sodium;Diabetic;Cardiac;Regular;Clear liquid] diet.|Smoking cessation "
               "[counseling was provided;was discussed].|Refer to {service}.|Admit to [medicine;telemetry;the "
               "hospitalist service] for further management.|Discharge home [when stable;today;in the "
               "morning].|Follow up with [primary care;the PCP;Dr. Y] in {n} days.|Repeat {lab} in {n} "
               "weeks.|{Service} consult.|Encourage [oral hydration;ambulation;incentive spirometry;weight "
               "loss].|Telemetry monitoring [overnight;for 24 hours].|Obtain "
               "{study}.|[Diabetic;Medication;Inhaler] teaching.|Pt to call if symptoms [worsen;do not "
               "improve;recur].|Return to the ED for [worsening pain;fever;chest pain;shortness of breath;any new "
               "symptoms].|Trend [creatinine;hemoglobin;potassium;troponin] [daily;every morning].|Hold {drug} for "
               "now.|Activity as tolerated[; with no heavy lifting; and weight bearing as "
               "tolerated].|[Fall;Aspiration;Seizure] precautions.|Will [discuss results;review the "
               "results;reassess] at the next visit.|Schedule outpatient {study} within {n} weeks.|Patient "
               "education provided regarding {topic}.|Goal {lab} reviewed with the patient.")
PLAN_SLOTS = {"lab": _split("CBC|BMP|potassium|creatinine|hemoglobin A1c|TSH|INR|lipid panel|liver function tests"),
              "service": _split("cardiology|physical therapy|gastroenterology|nephrology|orthopedics|neurology"),
              "study": _split("an echocardiogram|a stress test|an MRI of the lumbar spine|a chest x-ray|a renal "
                             "ultrasound|a CT of the abdomen|a colonoscopy|a sleep study"),
              "drug": _split("the diuretic|anticoagulation|the ACE inhibitor|NSAIDs|the statin"),
              "topic": _split("diet and exercise|medication side effects|warning signs|home glucose monitoring")}
# operation | indication | open/scope | key step | finding | specimen
OPERATIONS = _rows("""
laparoscopic cholecystectomy | symptomatic cholelithiasis | open | The cystic duct and artery were clipped and
    divided, and the gallbladder was removed from the liver bed | a distended gallbladder with multiple stones |
    gallbladder
laparoscopic appendectomy | acute appendicitis | open | The mesoappendix was divided and the appendix was stapled
    at its base | an inflamed, nonperforated appendix | appendix
right inguinal hernia repair with mesh | right inguinal hernia | open | The indirect sac was dissected free and
    reduced, and a polypropylene mesh was secured | an indirect inguinal hernia | none
left total knee arthroplasty | severe osteoarthritis of the left knee | open | The tibial and femoral cuts were
    made and the components were cemented in place | tricompartmental degenerative changes | none
carpal tunnel release | right carpal tunnel syndrome | open | The transverse carpal ligament was divided under
    direct vision | a compressed, hyperemic median nerve | none
excision of skin lesion | enlarging lesion of the back | open | An elliptical excision was carried down to the
    subcutaneous fat | a 1.2 cm pigmented lesion | skin lesion
colonoscopy with polypectomy | colon cancer screening | scope | The scope was advanced to the cecum and a polyp
    was removed with a snare | a 6 mm sessile polyp in the sigmoid colon | polyp
esophagogastroduodenoscopy with biopsy | epigastric pain and melena | scope | The scope was passed into the second
    part of the duodenum and biopsies were taken | a clean-based gastric ulcer | gastric biopsies
cystoscopy with ureteral stent placement | obstructing right ureteral stone | scope | A guidewire was passed into
    the right ureter and a double-J stent was placed | an impacted stone at the ureterovesical junction | none
knee arthroscopy with partial meniscectomy | medial meniscus tear | scope | The torn portion of the medial
    meniscus was resected to a stable rim | a complex tear of the posterior horn of the medial meniscus | none
cardiac catheterization | chest pain with an abnormal stress test | scope | Selective coronary angiography was
    performed through the right radial artery | 70% stenosis of the mid left anterior descending artery | none
""")
# study | technique | complaint | normal findings | abnormal finding | its impression
IMAGING = _rows("""
PA and lateral chest x-ray | Two views of the chest were obtained. | cough and fever | The lungs are clear. The
    cardiomediastinal silhouette is normal. No pleural effusion or pneumothorax. | There is a patchy opacity in
    the right lower lobe. | Right lower lobe pneumonia.
CT of the head without contrast | Axial images of the head were obtained without IV contrast. | headache | No
    intracranial hemorrhage, mass effect, or midline shift. The ventricles are normal in size. | There is a small
    chronic lacunar infarct in the left basal ganglia. | Chronic lacunar infarct, no acute abnormality.
CT of the abdomen and pelvis with contrast | Axial images of the abdomen and pelvis were obtained after IV
    contrast. Coronal reformats were reviewed. | right lower quadrant pain | The liver, spleen, pancreas, and
    kidneys are unremarkable. No free air. | The appendix is dilated to 11 mm with periappendiceal fat stranding.
    | Acute appendicitis without perforation.
ultrasound of the right upper quadrant | Grayscale and color Doppler images of the right upper quadrant were
    obtained. | right upper quadrant pain | The gallbladder is normal without stones. The common bile duct
    measures 4 mm. | Multiple mobile gallstones without wall thickening or pericholecystic fluid. | Cholelithiasis
    without cholecystitis.
MRI of the lumbar spine without contrast | Sagittal and axial T1 and T2 images of the lumbar spine were obtained.
    | low back pain radiating to the leg | Normal alignment. No disc herniation or canal stenosis. | There is a
    left paracentral disc protrusion at L4-L5 contacting the left L5 nerve root. | L4-L5 disc protrusion with left
    L5 nerve root contact.
renal ultrasound | Longitudinal and transverse images of both kidneys were obtained. | flank pain | Both kidneys
    are normal in size without hydronephrosis or stones. | Moderate right hydronephrosis with a 6 mm stone at the
    right ureterovesical junction. | Obstructing right distal ureteral stone.
CT angiogram of the chest | Axial images of the chest were obtained during the arterial phase after IV contrast. |
    shortness of breath | No pulmonary embolism. The lungs are clear. | Filling defects in the right lower lobe
    segmental pulmonary arteries. | Acute right lower lobe pulmonary embolism.
x-ray of the right knee, three views | Three views of the right knee were obtained. | knee pain | No fracture or
    dislocation. Joint spaces are preserved. | Medial joint space narrowing with osteophytes. | Moderate
    osteoarthritis of the right knee.
""")
# header kind>the section it opens (none: a known header that is no chart field) | schema synonyms | other words
HEADERS = {kind: (section or None, _split(schema), _split(other))
           for (kind, _, section), schema, other in ((row[0].partition(">"), row[1], row[2]) for row in _rows("""
chief_complaint>chief_complaint | CHIEF COMPLAINT|CC|REASON FOR VISIT|REASON FOR CONSULTATION|PRESENTING COMPLAINT
    | Chief complaint|Reason for visit|Presenting problem|Main concern|Complaint
hpi>history_of_present_illness | HISTORY OF PRESENT ILLNESS|HPI|HISTORY|PRESENT ILLNESS|HISTORY OF THE PRESENT
    ILLNESS | History of present illness|Hx of current illness|Present illness|Story|Current illness
subjective>history_of_present_illness | SUBJECTIVE|INTERVAL HISTORY | Subjective|Interval history|Since last visit
pmh>past_medical_history | PAST MEDICAL HISTORY|PMH|MEDICAL HISTORY|PAST HISTORY | Past medical
    history|PMHx|Medical problems|Past illnesses|Chronic conditions
psh>past_surgical_history | PAST SURGICAL HISTORY|PSH|SURGICAL HISTORY|PREVIOUS SURGERIES | Past surgical history|
    Surgeries|Prior operations|Operative history|Surgical hx
medications>medications | MEDICATIONS|CURRENT MEDICATIONS|HOME MEDICATIONS|MEDS|MEDICATIONS ON ADMISSION |
    Medications|Current drugs|Home meds|Meds at home|Current medicines|Drug list
discharge_medications>medications | DISCHARGE MEDICATIONS|MEDICATIONS ON DISCHARGE | Discharge medications|Going
    home on|Meds at discharge|Medicines to take at home
allergies>allergies | ALLERGIES|DRUG ALLERGIES|ALLERGY|MEDICATION ALLERGIES | Allergies|Drug
    allergies|Intolerances| Adverse reactions
social>social_history | SOCIAL HISTORY|SH|SOCIAL HX|HABITS | Social history|Social hx|Lifestyle|Social situation
family>family_history | FAMILY HISTORY|FH|FAMILY HX|FAMILY MEDICAL HISTORY | Family history|Family hx|FHx|Family
    background
ros>review_of_systems | REVIEW OF SYSTEMS|ROS|SYSTEMS REVIEW | Review of systems|ROS|Symptom review|Systems
    reviewed
vitals>vital_signs | VITAL SIGNS|VITALS|VS | Vital signs|Vitals|Vitals today|Triage vitals|Observations
exam>physical_exam | PHYSICAL EXAMINATION|PHYSICAL EXAM|EXAMINATION|PE | Physical examination|Physical exam|On
    examination|Exam findings|O/E
results>results | LABORATORY DATA|LABS|DIAGNOSTIC STUDIES|RESULTS|DATA|PERTINENT RESULTS | Labs|Laboratory
    data|Test results|Investigations|Workup
assessment>assessment | ASSESSMENT|IMPRESSION|DIAGNOSES|CLINICAL IMPRESSION|DIAGNOSIS |
    Assessment|Impression|Working diagnosis|Clinical impression|Dx
assessment_plan>assessment | ASSESSMENT AND PLAN|IMPRESSION AND PLAN|ASSESSMENT/PLAN|A/P | Assessment and plan|
    Impression & plan|A&P|Impression/plan
plan>plan | PLAN|RECOMMENDATIONS|PLAN OF CARE|TREATMENT PLAN|DISPOSITION | Plan|Recommendations|Next
    steps|Management plan|To do
hospital_course>hospital_course | HOSPITAL COURSE|BRIEF HOSPITAL COURSE|COURSE IN THE HOSPITAL | Hospital
    course|Course in hospital|Summary of stay|Inpatient course
ed_course>hospital_course | ED COURSE|EMERGENCY DEPARTMENT COURSE|ER COURSE | ED course|Course in the ED|Emergency
    department course|ED management
admission_diagnosis>assessment | ADMITTING DIAGNOSIS|ADMISSION DIAGNOSIS|ADMISSION DIAGNOSES | Admitting
    diagnosis| Diagnosis on admission|Admission dx
discharge_diagnosis>assessment | DISCHARGE DIAGNOSIS|DISCHARGE DIAGNOSES|FINAL DIAGNOSIS | Discharge
    diagnosis|Final dx| Diagnoses at discharge
preop_diagnosis>assessment | PREOPERATIVE DIAGNOSIS|PREOP DIAGNOSIS|PRE-OPERATIVE DIAGNOSIS | Preoperative
    diagnosis| Pre-op dx|Diagnosis before surgery
postop_diagnosis>assessment | POSTOPERATIVE DIAGNOSIS|POSTOP DIAGNOSIS|POST-OPERATIVE DIAGNOSIS | Postoperative
    diagnosis|Post-op dx|Diagnosis after surgery
procedure>procedure | PROCEDURE|PROCEDURE PERFORMED|OPERATION|NAME OF PROCEDURE|OPERATION PERFORMED | Procedure|
    Operation done|Procedure performed|Surgery
procedure_detail>procedure | DESCRIPTION OF PROCEDURE|PROCEDURE IN DETAIL|DETAILS OF PROCEDURE|OPERATIVE TECHNIQUE
    | Description of procedure|Procedure details|Operative description|What was done
indications>history_of_present_illness | INDICATIONS|INDICATIONS FOR PROCEDURE|INDICATION|INDICATIONS FOR SURGERY
    | Indications|Reason for surgery|Why performed|Indication for the procedure
operative_findings>results | FINDINGS|OPERATIVE FINDINGS|INTRAOPERATIVE FINDINGS | Findings|What we
    found|Operative findings|Intraop findings
study>procedure | EXAM|PROCEDURE|TITLE OF PROCEDURE | Exam|Study|Study performed|Imaging study
clinical_history>history_of_present_illness | CLINICAL HISTORY|HISTORY|INDICATION|CLINICAL INDICATION | Clinical
    history|Clinical information|History provided|Clinical details
technique>procedure | TECHNIQUE | Technique|Protocol|Method
findings>results | FINDINGS | Findings|Report|Observations|Findings today
impression>assessment | IMPRESSION|CONCLUSION|CONCLUSIONS | Impression|Conclusion|Summary of findings|Opinion
anesthesia | ANESTHESIA | Anesthesia|Anaesthetic
blood_loss | ESTIMATED BLOOD LOSS|EBL | Estimated blood loss|Blood loss
complications | COMPLICATIONS | Complications
specimens | SPECIMENS|SPECIMEN | Specimens|Specimen sent
comparison | COMPARISON | Comparison|Prior studies
condition | CONDITION ON DISCHARGE|DISCHARGE CONDITION | Condition at discharge|Condition
surgeon | SURGEON|ATTENDING | Surgeon|Operating surgeon
"""))}


# --- fragments: text with entities inside, laid out later ----------------------------------------

@dataclass
class _Ent:
    """Entity text inside a fragment list; it becomes a gold span once the note is laid out."""

    text: str
    label: str
    attrs: dict[str, Any] = field(default_factory=dict)


Frags = list  # str and _Ent, in text order
_SLOT = re.compile(r"\{(\w+)\}")
_CHOICE = re.compile(r"\[([^\[\]]*;[^\[\]]*)\]")


@dataclass
class _Ctx:
    """What the writers of one note share: its random stream, the patient, the note's style."""

    r: random.Random
    male: bool
    age: int
    months: bool
    conditions: list[tuple]
    surgeries: list[str]
    allergies: list[str]
    headed: bool = True
    lists: bool = True
    thorough: bool = False  # a long dictation: every section, long history, every system, more labs
    case: tuple = ()
    groups: int = 0

    def pick(self, seq: list) -> Any:
        return self.r.choice(seq)

    def chance(self, p: float) -> bool:
        return self.r.random() < p

    def group(self) -> int:
        self.groups += 1
        return self.groups - 1

    def fill(self, template: str, **slots: Any) -> Frags:
        """``template`` with each "[a;b]" replaced by one of its choices and each ``{slot}`` by text
        or fragments; {he}, {He}, {his}, {His}, {him} and {n} (a small number) are always there."""
        template = _CHOICE.sub(lambda m: self.pick(m.group(1).split(";")), template)
        he, his = ("he", "his") if self.male else ("she", "her")
        slots = {"he": he, "his": his, "him": "him" if self.male else "her", "His": his.title(),
                 "He": self.pick([he.title()] * 3 + ["The patient", "Pt"]), "n": self.r.randint(2, 12), **slots}
        out: Frags = []
        for i, piece in enumerate(_SLOT.split(template)):
            if i % 2:
                value = slots[piece]
                out += value if isinstance(value, list) else [value if isinstance(value, _Ent) else str(value)]
            elif piece:
                out.append(piece[1:] if piece[0] == "." and _text(out).endswith(".") else piece)  # "p.r.n.."
        return out


def _text(frags: Frags) -> str:
    return "".join(f.text if isinstance(f, _Ent) else f for f in frags)


def _cap(frags: Frags) -> Frags:
    """The fragments with their first letter upper-cased (a sentence start)."""
    for i, first in enumerate(frags):
        text = _text([first])
        if text:
            upper = text[:1].upper() + text[1:]
            return [*frags[:i], _Ent(upper, first.label, first.attrs) if isinstance(first, _Ent) else upper,
                    *frags[i + 1:]]
    return frags


def _list_form(ctx: _Ctx) -> str:
    return ctx.pick(["numbered", "dashed", "lines", "comma", "comma"]) if ctx.lists else "comma"


def _series(ctx: _Ctx, items: list, form: str = "comma") -> Frags:
    """Items (strings or fragments) as "a, b, and c", or one a line: numbered, dashed or bare."""
    items = [item if isinstance(item, list) else [item] for item in items]
    out: Frags = []
    if form == "comma" or not ctx.lists:
        for i, item in enumerate(items):
            last = ", and " if len(items) > 2 and ctx.chance(0.5) else " and "
            out += ([last] if i and i == len(items) - 1 else [", "] if i else []) + item
        return out
    stop = ctx.pick(["", "."])
    for i, item in enumerate(items):
        mark = {"numbered": f"{i + 1}. ", "dashed": "- ", "lines": ""}[form]
        out += (["\n"] if i else []) + [mark] + _cap(item) + [stop] * (not _text(item).endswith("."))
    return out


def _sentences(ctx: _Ctx, sents: list[Frags]) -> Frags:
    """Sentences joined by a space (or, where lists are allowed, sometimes one a line)."""
    joiner = "\n" if ctx.lists and ctx.chance(0.15) else " "
    return [frag for i, s in enumerate(sents) for frag in ([joiner] if i else []) + _cap(s)]


# --- entities --------------------------------------------------------------------------------

def _ent(text: str, label: str, **attrs: Any) -> _Ent:
    return _Ent(text, label, attrs)


def _age_sex(ctx: _Ctx) -> tuple[str, Frags]:
    """The patient's age and sex as written after "a"/"an" ("45-year-old man", "45 y/o F",
    "6-month-old girl"), and that article."""
    n = ctx.age
    article = "an" if n in (8, 11, 18) or 80 <= n < 90 else "a"
    if ctx.months or n < 18:
        age = f"{n}-month-old" if ctx.months else f"{n}-year-old"
        words = ["boy", "male", "male infant"] if ctx.male else ["girl", "female", "female infant"]
    else:
        age = ctx.pick([f"{n}-year-old"] * 4 + [f"{n} y/o", f"{n} yo", f"{n} year old", f"{n}-yr-old"])
        words = ["male", "man", "gentleman"] if ctx.male else ["female", "woman", "lady"]
        if age[-1] == "o" and ctx.chance(0.5):
            return article, [_ent(age, "age"), " ", _ent("M" if ctx.male else "F", "sex")]
    if ctx.chance(0.08):
        return article, [_ent(age, "age")]
    sex, *rest = ctx.pick(words if ctx.months else words[:2]).split()
    adjective = "" if n < 18 or ctx.chance(0.7) else ctx.pick(
        ["right-handed ", "previously healthy ", "pleasant ", "obese ", "retired "])
    return article, [_ent(age, "age"), " " + adjective, _ent(sex, "sex"), "".join(" " + w for w in rest)]


def _temperature(ctx: _Ctx) -> str:
    celsius = round(min(39.8, max(35.8, ctx.r.gauss(36.9, 0.6))), 1)
    if ctx.chance(0.5):
        f = 98.6 if ctx.chance(0.3) else round(celsius * 9 / 5 + 32, 1)
        return ctx.pick([f"{f} F", f"{f}°F", f"{f} degrees Fahrenheit", f"{f}", f"{f} F"])
    return ctx.pick([f"{celsius} C", f"{celsius} degrees Celsius", f"{celsius}°C", f"{celsius:.0f} C",
                     f"{celsius}"])


def _weight(ctx: _Ctx) -> str:
    kg, lb = ctx.r.randint(45, 125), ctx.r.randint(99, 275)
    return ctx.pick([f"{kg} kg", f"{kg + ctx.r.randint(0, 9) / 10} kg", f"{kg} kilograms", f"{lb} lbs",
                     f"{lb} pounds", f"{lb} lb"])


def _height(ctx: _Ctx) -> str:
    inches = ctx.r.randint(60, 76) if ctx.male else ctx.r.randint(56, 70)
    feet, rest = divmod(inches, 12)
    return f"{feet} feet" if not rest else ctx.pick(
        [f"{round(inches * 2.54)} cm", f"{inches * 0.0254:.2f} m", f"{feet} feet {rest} inches", f"{feet}'{rest}\"",
         f"{feet} ft {rest} inches", f"{feet}' {rest}\""])


# vital → its forms in a run of abbreviations | in prose | one a line
_VITAL_FORMS = {key: [_split(forms) for forms in _split(columns, " || ")] for key, columns in {
    "bp": "BP {s}/{d}|B/P {s}/{d}|BP {s}/{d} mmHg || blood pressure {s}/{d}|blood pressure of {s} over {d}|blood "
          "pressure is {s}/{d}|BP {s}/{d} || BP: {s}/{d}|Blood pressure: {s}/{d}|BP: {s}/{d} mmHg",
    "hr": "HR {v}|P {v}|pulse {v} || pulse {v}|pulse of {v}|heart rate {v} bpm|heart rate of {v} || HR: {v}|Pulse: "
          "{v}|Heart rate: {v}",
    "rr": "RR {v}|R {v}|resp {v} || respirations {v}|respiratory rate of {v}|respiratory rate {v} || RR: {v}"
          "|Respirations: {v}|Respiratory rate: {v}",
    "t": "T {v}|Temp {v}|temp {v} || temperature {v}|temperature of {v}|temp {v} || Temp: {v}|Temperature: {v}"
         "|T: {v}",
    "o2": "SpO2 {v}%|O2 sat {v}% on RA|sat {v}%|O2 sat {v}% || O2 saturation {v}% on room air|oxygen saturation of "
          "{v}% on {L} L nasal cannula|saturating {v}% on room air|pulse ox {v}% on RA || SpO2: {v}%|Oxygen "
          "saturation: {v}%|O2 sat: {v}% on room air",
    "wt": "Wt {v}|weight {v} || weight {v}|weight of {v} || Weight: {v}|Wt: {v}",
    "ht": "Ht {v}|height {v} || height {v}|height of {v} || Height: {v}|Ht: {v}"}.items()}
_VITAL_ODDS = {"bp": 0.92, "hr": 0.9, "rr": 0.7, "t": 0.8, "o2": 0.7, "wt": 0.35, "ht": 0.15}


def _vitals(ctx: _Ctx) -> Frags:
    """Vital signs as a run of abbreviations, in prose or one a line; each number (with its unit
    for temperature, weight and height) is an entity."""
    r, systolic = ctx.r, ctx.r.randint(96, 178)
    values = {"bp": {"s": _ent(str(systolic), "bp_systolic"),
                     "d": _ent(str(r.randint(54, min(systolic - 30, 108))), "bp_diastolic")},
              "hr": {"v": _ent(str(r.randint(52, 126)), "heart_rate")},
              "rr": {"v": _ent(str(r.randint(12, 28)), "resp_rate")},
              "t": {"v": _ent(_temperature(ctx), "temperature")},
              "o2": {"v": _ent(str(r.randint(88, 100)), "spo2"), "L": r.randint(2, 4)},
              "wt": {"v": _ent(_weight(ctx), "weight")}, "ht": {"v": _ent(_height(ctx), "height")}}
    names = [k for k in values if ctx.chance(_VITAL_ODDS[k])]
    names += [k for k in ("bp", "hr") if len(names) < 2 and k not in names]  # "P 88" counts only in a run
    if ctx.chance(0.5):
        r.shuffle(names)
    style = ctx.pick([0, 1, 1] + [2] * ctx.lists)
    items = [ctx.fill(ctx.pick(_VITAL_FORMS[k][style]), **values[k]) for k in names]
    if style == 1:
        return _cap([ctx.pick(["", "", "on arrival, ", "vitals showed ", "today "])] + _series(ctx, items) + ["."])
    sep = "\n" if style == 2 else ctx.pick([", ", ", ", "; ", "  "])
    stop = ["."] * (style == 0 and ctx.chance(0.5))
    return [f for i, item in enumerate(items) for f in ([sep] if i else []) + item] + stop


def _med(ctx: _Ctx, name: str, *, sig: float = 0.85, route: str = "", negated: bool = False) -> Frags:
    """A drug and, each with odds ``sig``, its dose, route and frequency, sharing one group:
    "lisinopril 10 mg p.o. daily", "albuterol 2 puffs inhaled q.4-6h. p.r.n."."""
    doses, unit, kinds, freqs = DRUGS[name]
    group = ctx.group()
    out: Frags = [_ent(name, "medication", group=group, negated=negated)]
    if negated:
        return out
    if doses and ctx.chance(sig):
        amount = ctx.pick(doses.split(";"))
        unit = unit.rstrip("s") if amount == "1" else unit
        out += [" ", _ent(f"{amount}{unit}" if unit == "mg" and ctx.chance(0.08) else f"{amount} {unit}",
                          "medication_dose", group=group)] + [" 1 tablet"] * (kinds == "o" and ctx.chance(0.05))
    kind = route or kinds[0]
    if ctx.chance(sig * (0.5 if kind == "o" else 1) + (0.15 if route else 0)):
        out += [" ", _ent(ctx.pick(_ROUTES[kind]), "medication_route", group=group)]
    if ctx.chance(sig):
        out += [" ", _ent(ctx.pick(_FREQS[ctx.pick(freqs)]), "medication_frequency", group=group)]
    return out


def _home_drugs(ctx: _Ctx) -> list[str]:
    """One drug per treated condition (now and then two), sometimes an over-the-counter one."""
    names = [ctx.pick(drugs) for _, _, drugs in ctx.conditions if drugs for _ in range(1 + ctx.chance(0.2))]
    if ctx.chance(0.3):
        names.append(ctx.pick(["acetaminophen", "ibuprofen", "docusate", "loratadine", "Tylenol", "senna"]))
    return list(dict.fromkeys(names))


def _medications(ctx: _Ctx, names: list[str] | None = None, lead: str = "") -> Frags:
    """A drug list (numbered, dashed, one a line, comma-separated or in a sentence), or none;
    now and then a drug the patient does not take (a negated mention)."""
    names = _home_drugs(ctx) if names is None else names
    if not names:
        return ctx.fill(ctx.pick(["None.", "No regular medications."] * ctx.headed
                                 + ["{He} takes no medications."]))
    items, form = [_med(ctx, name) for name in names], _list_form(ctx)
    out = _series(ctx, items, form) if form != "comma" else _cap(ctx.fill(lead or ctx.pick(
        ["{He} takes {x}.", "Current medications include {x}.", "{He} is on {x}.", "Home medications are {x}.",
         "Meds include {x}."] + ["{x}."] * ctx.headed), x=_series(ctx, items)))
    if ctx.chance(0.12):
        other = ctx.pick([d for d in ("aspirin", "warfarin", "metformin", "ibuprofen", "prednisone")
                          if d not in names])
        out += [" "] + ctx.fill(ctx.pick(["{He} is not taking {m}.", "No longer taking {m}.", "Not on {m}.",
                                          "{He} has not been taking {his} {m}.", "{He} declined {m}."]),
                                m=_med(ctx, other, negated=True))
    return out


def _allergies(ctx: _Ctx) -> Frags:
    """No known allergies (the phrase is the allergen) or substances, often with their reactions;
    now and then a denied one."""
    items = [_ent(a, "allergen", negated=False) for a in ctx.allergies]
    if not items:
        phrase = ctx.pick(["NKDA", "No known drug allergies", "No known allergies", "NKA",
                           "no known drug allergies"] + ["None"] * ctx.headed)
        out = ctx.fill(ctx.pick(["{a}."] * 2 + ["{He} has {a}.", "{He} reports {a}."] * phrase.islower()),
                       a=[_ent(phrase, "allergen", negated=False)])
    elif ctx.chance(0.5):
        form = _list_form(ctx)
        reactions = [ctx.fill("{a}[ ({x}); - {x}; causes {x};, which causes {x}]", a=item, x=ctx.pick(REACTIONS))
                     for item in items]
        out = _cap(_series(ctx, reactions, form)) + ["."] * (form == "comma")
    else:
        out = ctx.fill(ctx.pick(["{x}.", "Allergic to {x}.", "{He} is allergic to {x}.", "{x}, reaction unknown."]),
                       x=_series(ctx, items))
    if ctx.chance(0.08):
        denied = ctx.pick([a for a in ("latex", "shellfish", "iodinated contrast", "eggs")
                           if a not in ctx.allergies])
        out += [" "] + ctx.fill("[Denies;No] allergy to {a}.", a=_ent(denied, "allergen", negated=True))
    return _cap(out)


# --- sections ----------------------------------------------------------------------------------

_INTROS = _split(
    "This is {a} {as} who presents with {c} for {d}.|{As} with a history of {hx} presenting with {d} of {c}.|The "
    "patient is {a} {as} c/o {c} x {d}.|Pt is {a} {as} w/ h/o {hx} who comes in today complaining of {c}.|{As} who "
    "was in {his} usual state of health until {d} ago, when {he} developed {c}.|The patient is {a} {as} referred "
    "by Dr. X for evaluation of {c}.|{As} with {hx} is seen for {c} that began {d} ago.|{As} presents to the "
    "emergency department with {c}.|{As} is admitted with {c} of {d} duration.")
_FOLLOW_UPS = _split("{As} returns for follow-up of {c}.|Pt is {a} {as} seen today in follow-up for {c}.|{He} is "
                     "{a} {as} with h/o {hx}, here for a recheck of {c}.|{As}, known to this clinic, here for "
                     "{c}.")
_DETAILS = _split(
    "The symptoms started {onset} and have been {course}.|{He} rates it {k}/10 in severity.|It is worse with "
    "{worse} and better with {better}.|{He} reports associated {s1} and {s2}.|{He} denies {s1}, {s2}, or {s3}.|No "
    "{s1}, {s2}, or {s3}.|Associated with {s1}.|No recent [travel;sick contacts;travel or sick "
    "contacts;antibiotics;hospitalizations].|{He} tried {med} with {relief} relief.|{He} was seen at an outside "
    "clinic and given {med}.|Symptoms began after {trigger}.|Denies {s1}. Positive for {s2}.|{He} has had similar "
    "episodes in the past.|This is the first [such episode;time this has happened;episode like this].|{He} has "
    "been [compliant;adherent] with {his} medications.|Reports {s1} since {when}.|{He} first noticed it {when} "
    "while {activity}.|The {pain} is {quality} and {radiates}.|{He} has lost {n} pounds over the past [month;few "
    "weeks;2 months].|Appetite has been {appetite}.|{His} {kin} brought {him} in.|Of note, {he} was recently "
    "started on {med}.|{He} denies any recent trauma.|Last bowel movement was {when}.|{He} called the office "
    "{when} and was advised to come in.|The {pain} wakes {him} from sleep.|{He} was evaluated at [urgent care;an "
    "outside hospital;the clinic] {when}, where [labs were unremarkable;an x-ray was negative;no diagnosis was "
    "made].|[Nothing;Rest;Ice] seems to help.|{He} [is worried;wanted to be checked] because {his} "
    "[father;mother;brother] had similar symptoms.|Review of the chart shows a similar visit [a year;6 "
    "months;several weeks] ago.|{He} describes the episodes as lasting [minutes;hours;several seconds] at a "
    "time.|There is no associated {s3}.|{He} is otherwise feeling [well;tired;run down].")
_HPI_SLOTS = {key: _split(words) for key, words in (entry.split("=") for entry in _table("""
onset=gradually|suddenly|abruptly|insidiously; relief=minimal|partial|good|no;
course=worsening|constant|intermittent|improving|waxing and waning; worse=exertion|movement|eating|lying flat|deep
breaths|walking|coughing; better=rest|sitting up|heat|lying still|nothing; pain=pain|discomfort|ache; trigger=a
viral illness|lifting a heavy box|a fatty meal|a long car ride|a change in diet; when=yesterday|last night|this
morning|over the weekend|2 days ago|earlier today; activity=at work|walking the dog|watching television|climbing
stairs|eating dinner|gardening; quality=sharp|dull|pressure-like|burning|cramping|stabbing|aching|throbbing;
radiates=radiates to the back|radiates to the left arm|does not radiate|radiates to the groin|radiates to the
jaw|is localized; appetite=poor|decreased|normal|good; kin=spouse|daughter|son|neighbor|sister|friend""", ";"))}


def _duration(ctx: _Ctx) -> str:
    n = ctx.r.randint(2, 10)
    return ctx.pick([f"{n} days", f"{n} weeks", f"{n} hours", "1 day", "several days", "1 week", f"{n} months"])


def _intro(ctx: _Ctx, templates: list[str], complaint: str) -> Frags:
    """The sentence that introduces the patient, with the note's one mention of age and sex."""
    article, who = _age_sex(ctx)
    history = [abbr if abbr and ctx.chance(0.6) else name for name, abbr, _ in ctx.conditions[:3]]
    templates = templates if history else [t for t in templates if "{hx}" not in t]
    return ctx.fill(ctx.pick(templates), a=article, As=[article.title() + " "] + who, c=complaint,
                    d=_duration(ctx), hx=_text(_series(ctx, history)), **{"as": who})


def _hpi(ctx: _Ctx, follow_up: bool = False) -> Frags:
    complaint = ctx.pick(ctx.case[0])
    sents = [_intro(ctx, _FOLLOW_UPS if follow_up else _INTROS, complaint)]
    symptoms = [s for s in SYMPTOMS if s not in complaint]
    for template in ctx.r.sample(_DETAILS, ctx.r.randint(10, 18) if ctx.thorough else ctx.r.randint(3, 9)):
        slots = {key: ctx.pick(words) for key, words in _HPI_SLOTS.items()}
        slots.update(zip(("s1", "s2", "s3"), ctx.r.sample(symptoms, 3)), k=ctx.r.randint(3, 9), d=_duration(ctx))
        if "{med}" in template:
            slots["med"] = _med(ctx, ctx.pick(ctx.case[2]), sig=0.6)
        sents.append(ctx.fill(template, **slots))
    return _sentences(ctx, sents)


def _chief_complaint(ctx: _Ctx) -> Frags:
    return _said(ctx, ["{c}.", "{c}", "{c} x {d}.", "{c} for {d}.", "C/o {c}."],
                 ["[Pt presents with;Seen today for;Here for;The patient comes in complaining of] {c}."],
                 c=ctx.pick(ctx.case[0]), d=_duration(ctx))


def _listing(ctx: _Ctx, items: list[str], headed: list[str], prose: list[str], none: list[str]) -> Frags:
    """A history list: one item a line, after a header as is, or in a sentence; or a none-phrase."""
    form = _list_form(ctx)
    if not items or form != "comma":
        return _series(ctx, items, form) if items else _cap(ctx.fill(ctx.pick(none)))
    return _cap(ctx.fill(ctx.pick(headed if ctx.headed else prose), x=_series(ctx, items)))


def _pmh(ctx: _Ctx) -> Frags:
    return _listing(ctx, [abbr if abbr and ctx.chance(0.4) else name for name, abbr, _ in ctx.conditions],
                    ["{x}.", "Significant for {x}.", "Notable for {x}.", "{x}"],
                    ["Past medical history is significant for {x}.", "PMH includes {x}.", "H/o {x}.",
                     "{He} has a history of {x}.", "Medical history is notable for {x}."],
                    ["Noncontributory.", "No significant past medical history.", "Otherwise healthy."])


def _psh(ctx: _Ctx) -> Frags:
    when = [f"{ctx.r.randint(2, 30)} years ago", "in the remote past", "as a child", "last year"]
    items = [_text(ctx.fill("[s/p {s};status post {s};{s} {w};{s}]", s=s, w=ctx.pick(when))) for s in ctx.surgeries]
    return _listing(ctx, items, ["{x}.", "{x}"], ["[Surgical history includes;Prior surgeries include;PSH is "
                                                  "significant for] {x}."],
                    ["None."] * ctx.headed + ["No prior surgeries.", "No previous operations."])


def _social(ctx: _Ctx) -> Frags:
    sents = [ctx.fill(ctx.pick(group), n2=ctx.r.randint(10, 60), k=ctx.r.randint(1, 5))
             for i, group in enumerate(SOCIAL) if i == 0 or ctx.chance(0.55)]
    if not ctx.headed and ctx.chance(0.4):
        sents[0] = ["Socially, ", _text(sents[0])[:1].lower() + _text(sents[0])[1:]]
    return _sentences(ctx, sents)


def _family(ctx: _Ctx) -> Frags:
    return _sentences(ctx, [ctx.fill(t, c=ctx.pick(FAMILY_CONDITIONS), n=ctx.r.randint(48, 88))
                            for t in ctx.r.sample(FAMILY, ctx.r.randint(1, 3))])


def _ros(ctx: _Ctx) -> Frags:
    """A summary line, a denial in prose, or body systems under sub-headers (never section headers)."""
    style = "systems" if ctx.thorough else ctx.pick(["short", "systems", "systems", "prose"])
    if style == "short":
        return ctx.fill("[Negative except as noted in the HPI;A 10-point review of systems is otherwise "
                        "negative;All other systems reviewed and negative;Otherwise negative;As per HPI, otherwise "
                        "negative].")
    rows = [row for row in ROS if ctx.thorough or ctx.chance(0.7)] or ROS[:3]
    if style == "prose":
        return ctx.fill("{He} denies {x}. [All other systems negative;Otherwise negative;No other complaints].",
                        x=_series(ctx, [ctx.pick(symptoms) for _, symptoms in rows[:6]]))
    upper, out = ctx.chance(0.6), []
    for name, symptoms in rows:
        found = ", ".join(ctx.r.sample(symptoms, ctx.r.randint(2, 3)))
        name = name if upper or len(name) < 4 else name.title()
        out += ["\n" if ctx.lists else " "] * bool(out) + [name + ": "]
        out += ctx.fill("[Negative for;Denies;No;Negative for] {x}.", x=found) if ctx.chance(0.85) else [
            f"Positive for {found.split(',')[0]}."]
    return out


def _exam(ctx: _Ctx) -> Frags:
    """Body systems, each with two to four findings (now and then an abnormal one first), under
    sub-headers one a line or in a paragraph, or run into prose ("Lungs clear ...")."""
    style, parts = ctx.pick(["lines", "inline", "prose"] if ctx.lists else ["inline", "prose"]), []
    for names, normal, abnormal in EXAM:
        if not (names.startswith(("GEN", "HEENT", "LUNGS", "HEART", "ABD")) or ctx.thorough or ctx.chance(0.6)):
            continue
        phrases = [ctx.pick(_split(abnormal))] * ctx.chance(0.25)
        phrases += ctx.r.sample(_split(normal), ctx.r.randint(2, 4))
        joiner = ctx.pick([", "] * 6 + ["; ", "; ", ". "])
        finding = joiner.join(p[0].upper() + p[1:] if joiner == ". " else p for p in phrases) + "."
        name = ctx.pick(names.split("/"))
        if style == "prose":
            parts.append(f"{name if len(name) <= 5 and name != 'NECK' else name.capitalize()} {finding}")
        else:
            title = ctx.chance(0.4) and name not in ("HEENT", "GI", "CV")
            parts.append(f"{name.title() if title else name}: {finding[0].upper()}{finding[1:]}")
    return ["\n".join(parts) if style == "lines" else " ".join(parts)]


def _results(ctx: _Ctx) -> Frags:
    labs = [f"{name} {round(ctx.r.uniform(low, high), places) if places else ctx.r.randint(int(low), int(high))}"
            for name, low, high, places in ctx.r.sample(LABS, ctx.r.randint(3, 16 if ctx.thorough else 9))]
    return _sentences(ctx, [ctx.fill("[Labs showed ;;Notable for ;CBC and BMP showed ;Labs are significant for ;"
                                     "Laboratory studies revealed ]{x}.", x=_series(ctx, labs))]
                      + [ctx.fill(s) for s in ctx.r.sample(STUDIES, ctx.r.randint(0, 3))])


def _assessment(ctx: _Ctx, main: str = "") -> Frags:
    status = ["stable", "well controlled", "uncontrolled"]
    items = [main or ctx.pick(ctx.case[1])]
    items += [f"{abbr or name}, {ctx.pick(status)}" for name, abbr, _ in ctx.conditions[:2] if ctx.chance(0.5)]
    form = _list_form(ctx) if len(items) > 1 else "comma"
    if form != "comma":
        return _series(ctx, items, form)
    if ctx.chance(0.35) and not main:
        other = ctx.pick([dx for dx in ctx.case[1] if dx != items[0]])
        items[0] += _text(ctx.fill(", [rule out;versus;differential includes] {y}", y=other))
    return _said(ctx, ["{x}.", "{x}"], ["Impression is {x}.", "My impression is {x}.", "Assessment is {x}.",
                                        "This is most consistent with {x}.", "The patient likely has {x}."],
                 x=_series(ctx, items))


def _plan(ctx: _Ctx) -> Frags:
    slots = {key: ctx.pick(words) for key, words in PLAN_SLOTS.items()}
    items = [ctx.fill(p.rstrip("."), Service=slots["service"].capitalize(), **slots)
             for p in ctx.r.sample(PLANS, ctx.r.randint(2, 9 if ctx.thorough else 6))]
    if ctx.chance(0.75):
        lead = "" if ctx.headed or ctx.chance(0.5) else ctx.pick(["We will ", "Plan is to ", "Will "])
        items.insert(0, ctx.fill(lead + "[start;begin;continue;give] {m}[; now; for {k} days]",
                                 m=_med(ctx, ctx.pick(ctx.case[2])), k=ctx.r.randint(3, 14)))
    form = _list_form(ctx)
    return _series(ctx, items, form) if form != "comma" else _sentences(ctx, [ctx.fill("{x}.", x=i) for i in items])


_COURSE = _split(
    "{His} symptoms improved over the next {n} days.|{He} remained afebrile and hemodynamically "
    "stable.|[Cardiology;Nephrology;Infectious disease] was consulted and agreed with the plan.|Physical therapy "
    "evaluated {him} and recommended [home exercises;a walker;outpatient therapy].|By the day of discharge, {he} "
    "was tolerating a regular diet and ambulating.|Pain was controlled with oral medications.|[Blood;Urine] "
    "cultures [remained negative;grew pan-sensitive E. coli].|{His} [creatinine;potassium;hemoglobin] "
    "[normalized;remained stable;was trended daily].|{He} was seen by [case management;social "
    "work;nutrition].|[Home;Outpatient] services were arranged.|Repeat imaging showed [improvement;no change].")


def _course(ctx: _Ctx, ed: bool = False) -> Frags:
    """Hospital or ED course: what was given (IV drugs with their sigs) and how the patient did."""
    iv = ["ceftriaxone", "vancomycin", "Zosyn", "morphine", "ondansetron", "pantoprazole", "lorazepam"]
    given = _series(ctx, [_med(ctx, name, route="v") for name in ctx.r.sample(iv, ctx.r.randint(1, 2))])
    if ed:
        return _sentences(ctx, [
            ctx.fill("[In the ED, {he} received;{He} was given;{He} was treated with] {m}.", m=given),
            ctx.fill("[Labs and imaging as above;On reassessment, {he} felt better;Case was discussed with Dr. X, "
                     "who agreed with the plan;{He} remained hemodynamically stable].")])
    sents = [ctx.fill("[The patient;{He}] was admitted to [the medical floor;telemetry;the ICU;the hospitalist "
                      "service] [for;with] {x}.", x=ctx.pick(ctx.case[1])),
             ctx.fill("[{He} was started on;Treatment included] {m}.", m=given)]
    count = ctx.r.randint(5, 11) if ctx.thorough else ctx.r.randint(2, 5)
    sents += [ctx.fill(t) for t in ctx.r.sample(_COURSE, count)]
    if ctx.chance(0.4):
        oral = ctx.pick(["amoxicillin", "levofloxacin", "cephalexin", "doxycycline", "oxycodone"])
        sents.append(ctx.fill("{He} was transitioned to oral {m} before discharge.", m=_med(ctx, oral)))
    sents.append(ctx.fill("{He} was discharged [home in stable condition;to a rehab facility]."))
    return _sentences(ctx, sents)


# --- notes: which blocks, in which order ---------------------------------------------------------

Block = tuple  # (header kind or None, section label or None, fragments)
Writer = Callable[[_Ctx], Frags]


def _block(kind: str | None, frags: Frags) -> Block:
    return kind, HEADERS[kind][0] if kind else None, frags


def _opt(ctx: _Ctx, odds: float, kind: str, writer: Writer) -> list[Block]:
    """The block with the given odds, always in a thorough note (the writer runs only for a
    block that is kept)."""
    return [_block(kind, writer(ctx))] if ctx.thorough or ctx.chance(odds) else []


def _said(ctx: _Ctx, headed: list[str], prose: list[str], **slots: Any) -> Frags:
    """A short statement: terse after a header ("None."), a sentence without one."""
    return _cap(ctx.fill(ctx.pick(headed if ctx.headed else prose), **slots))


def _assessment_and_plan(ctx: _Ctx) -> list[Block]:
    """Assessment then plan; with headers, now and then both under one "Assessment and plan:"
    header, which (as the schema says) makes the whole of it the assessment section."""
    if ctx.headed and ctx.chance(0.2):
        return [_block("assessment_plan", _assessment(ctx) + [ctx.pick([" ", "\n"])] + _plan(ctx))]
    return [_block("assessment", _assessment(ctx)), _block("plan", _plan(ctx))]


def _histories(ctx: _Ctx, odds: dict[str, float]) -> list[Block]:
    """Past medical and surgical history, medications, allergies, social and family history, in
    the usual order or with a neighbouring pair or two swapped."""
    writers = {"pmh": _pmh, "psh": _psh, "medications": _medications, "allergies": _allergies, "social": _social,
               "family": _family}
    kinds = [kind for kind in writers if ctx.thorough or ctx.chance(odds.get(kind, 0.95))]
    for _ in range(ctx.r.randint(0, 2) if len(kinds) > 1 else 0):
        i = ctx.r.randrange(len(kinds) - 1)
        kinds[i:i + 2] = kinds[i + 1], kinds[i]
    return [_block(kind, writers[kind](ctx)) for kind in kinds]


def _examination(ctx: _Ctx, vitals: float = 0.9, results: float = 0.5) -> list[Block]:
    exam = [_block("exam", _exam(ctx))]
    return _opt(ctx, vitals, "vitals", _vitals) + exam + _opt(ctx, results, "results", _results)


def _hp_consult(ctx: _Ctx) -> list[Block]:
    ros, early = _opt(ctx, 0.75, "ros", _ros), ctx.chance(0.3)
    return (_opt(ctx, 0.85, "chief_complaint", _chief_complaint) + [_block("hpi", _hpi(ctx))] + ros * early
            + _histories(ctx, {"psh": 0.7, "family": 0.7, "social": 0.85}) + ros * (not early)
            + _examination(ctx) + _assessment_and_plan(ctx))


def _progress(ctx: _Ctx) -> list[Block]:
    return (_opt(ctx, 0.3, "chief_complaint", _chief_complaint) + [_block("subjective", _hpi(ctx, follow_up=True))]
            + _opt(ctx, 0.6, "medications", _medications) + _opt(ctx, 0.3, "allergies", _allergies)
            + _opt(ctx, 0.4, "ros", _ros) + _examination(ctx, 0.85, 0.4) + _assessment_and_plan(ctx))


def _emergency(ctx: _Ctx) -> list[Block]:
    return (_opt(ctx, 0.9, "chief_complaint", _chief_complaint) + [_block("hpi", _hpi(ctx))]
            + _histories(ctx, {"psh": 0.4, "family": 0.3, "social": 0.6, "medications": 0.8})
            + _opt(ctx, 0.6, "ros", _ros) + _examination(ctx, 0.97, 0.8)
            + _opt(ctx, 0.8, "ed_course", lambda c: _course(c, ed=True)) + _assessment_and_plan(ctx))


def _discharge(ctx: _Ctx) -> list[Block]:
    main = ctx.pick(ctx.case[1])
    drugs = list(dict.fromkeys(_home_drugs(ctx) + ctx.case[2][:ctx.r.randint(0, 1)]))
    lead = "" if ctx.headed else "[{He} is discharged on;Discharge medications include;{He} will go home on] {x}."
    admission = _said(ctx, ["{x}.", "{x}"], ["[Admitting diagnosis was;{He} was admitted for] {x}."], x=main)
    final = _assessment(ctx, main) if ctx.headed else _said(ctx, [], ["[Discharge;Final] diagnosis [is;was] {x}."],
                                                             x=main)
    return ([_block("admission_diagnosis", admission), _block("discharge_diagnosis", final)]
            + _opt(ctx, 0.8, "hpi", _hpi) + [_block("hospital_course", _course(ctx))]
            + (_examination(ctx, 0.3, 0.4) if ctx.chance(0.3) else [])
            + [_block("discharge_medications", _medications(ctx, drugs, lead))]
            + _opt(ctx, 0.8, "allergies", _allergies)
            + _opt(ctx, 0.5, "condition", lambda c: _said(c, ["Stable.", "Good.", "Fair."], [
                "Condition at discharge was stable.", "{He} left in good condition."]))
            + [_block("plan", _plan(ctx))])


_STEPS = {"open": _split(
    "The patient was [brought;taken] to the operating room and placed [supine;in the supine position] on the "
    "table.|After [induction of general anesthesia;adequate anesthesia was obtained;intubation], the [operative "
    "field;operative site;surgical site] was prepped and draped in the usual sterile fashion.|A time-out was "
    "performed[; confirming the patient and procedure].|{step}.|[Hemostasis was obtained;Hemostasis was "
    "confirmed;Meticulous hemostasis was achieved].|The [wound;incision] was irrigated and [closed in layers;the "
    "skin was closed with staples;the skin was closed with 4-0 Monocryl].|A [sterile dressing;Dermabond "
    "dressing;bulky dressing] was applied.|[Sponge and needle counts were correct;All counts were correct at the "
    "end of the case].|The patient tolerated the procedure well and was taken to the [recovery room;PACU] in "
    "[stable;good] condition."),
    "scope": _split(
    "After informed consent was obtained, the patient was placed in the [left lateral decubitus;supine;lithotomy] "
    "position.|[Moderate sedation was administered;Monitored anesthesia care was provided;Sedation was given by "
    "anesthesia].|{step}.|[Careful inspection was performed on withdrawal;The mucosa was inspected carefully on "
    "withdrawal;Images were obtained].|The patient tolerated the procedure well [without immediate "
    "complications;and was taken to recovery].")}
_INDICATIONS = _split("{As} with {c} who elected to proceed after a discussion of risks and benefits.|The patient "
                      "is {a} {as} with {c}, refractory to conservative management.|{As} with {c}. Risks, "
                      "benefits, and alternatives were discussed and consent was obtained.")


def _after_surgery(ctx: _Ctx) -> Frags:
    pain = _med(ctx, ctx.pick(["oxycodone", "acetaminophen", "Tylenol"]))
    return _sentences(ctx, [
        ctx.fill("[Discharge home when criteria are met;Admit for overnight observation;Discharge home today]."),
        ctx.fill("[Pain control with;Prescribed] {m}.", m=pain),
        ctx.fill("Follow up [in clinic in 2 weeks;with Dr. X in {n} days;for wound check in 1 week].")])


def _operative(ctx: _Ctx) -> list[Block]:
    name, indication, kind, step, finding, specimen = ctx.pick(OPERATIONS)
    sent = "No specimens were sent." if specimen == "none" else f"The {specimen} was sent to pathology."
    said = {"surgeon": (["Dr. X.", "Dr. Y"], ["The surgeon was Dr. X."]),
            "anesthesia": (_split("General endotracheal.|General.|Monitored anesthesia care.|Spinal.|LMA general."),
                           ["Anesthesia was general.", "It was done under sedation."]),
            "blood_loss": (["Minimal.", "{ml} mL.", "Less than 10 mL."], ["Estimated blood loss was minimal."]),
            "complications": (["None.", "None apparent."], ["There were no complications."]),
            "specimens": (["None."] if specimen == "none" else [f"{specimen.capitalize()} to pathology."], [sent])}
    side = {key: _opt(ctx, 0.75, key, lambda c, key=key: _said(c, *said[key], ml=c.r.randint(2, 30) * 5))
            for key in said}
    detail = [ctx.fill(s, step=step) for s in _STEPS[kind] if s == "{step}." or ctx.chance(0.8)]
    return ([_block("preop_diagnosis", _said(ctx, ["{x}.", "{x}"], ["The preoperative diagnosis was {x}."],
                                             x=indication)),
             _block("postop_diagnosis", _said(ctx, ["Same.", "{x}.", "Same as above."], [
                 "Postoperative diagnosis was the same.", "The postoperative diagnosis was {x}."], x=indication)),
             _block("procedure", _said(ctx, ["{x}.", "{x}"], ["The procedure performed was {x}.",
                                                              "{x} was performed."], x=name))]
            + side["surgeon"] + side["anesthesia"]
            + _opt(ctx, 0.7, "indications", lambda c: _intro(c, _INDICATIONS, indication))
            + _opt(ctx, 0.8, "operative_findings", lambda c: _said(c, ["{x}.", "{x}"], [
                "Findings included {x}.", "Intraoperatively, we found {x}."], x=finding))
            + [_block("procedure_detail", _sentences(ctx, detail))]
            + side["blood_loss"] + side["complications"] + side["specimens"]
            + _opt(ctx, 0.4, "plan", _after_surgery))


_RADIOLOGY_NORMALS = _split("The visualized osseous structures are unremarkable.|Soft tissues are unremarkable.|No "
                            "acute fracture is seen.|There is no free fluid.|Mild degenerative changes are "
                            "noted.|Vascular calcifications are present.")


def _radiology(ctx: _Ctx) -> list[Block]:
    study, technique, complaint, normal, finding, impression = ctx.pick(IMAGING)
    abnormal = ctx.chance(0.55)
    findings = [finding] * abnormal + [s.rstrip(".") + "." for s in normal.split(". ")]
    findings += ctx.r.sample(_RADIOLOGY_NORMALS, 2)
    if not abnormal:
        impression = ctx.pick(["No acute abnormality.", "Normal study.", "Negative examination."])
    if ctx.chance(0.7):
        history = _intro(ctx, ["{As} with {c}.", "{As} with {c} for {d}.", "{As}, {c}, evaluate."], complaint)
    else:
        history = _said(ctx, ["{c}."], ["History of {c}."], c=complaint)
    return ([_block("study", _said(ctx, [study.upper(), study + "."], ["{x} was performed.", "Exam is {x}."],
                                   x=study)),
             _block("clinical_history", history)]
            + _opt(ctx, 0.8, "technique", lambda c: [technique])
            + _opt(ctx, 0.6, "comparison", lambda c: _said(
                c, ["None.", "None available.", "Prior study from {n} years ago."],
                ["No prior studies for comparison.", "Compared with a study from {n} years ago."]))
            + [_block("findings", _sentences(ctx, [[s] for s in findings])),
               _block("impression", _said(ctx, ["{x}", "1. {x}"], ["In summary, {y}", "Overall, {y}"], x=impression,
                                          y=impression[0].lower() + impression[1:]))])


def _letter(ctx: _Ctx) -> list[Block]:
    return ([_block(None, ["Dear Dr. X,"]), _block(None, ["Thank you for asking me to see this patient."]),
             _block("hpi", _hpi(ctx)), _block("pmh", _pmh(ctx)), _block("medications", _medications(ctx)),
             _block("allergies", _allergies(ctx))] + _examination(ctx, 0.7, 0.3)
            + [_block("assessment", _assessment(ctx)), _block("plan", _plan(ctx)), _block(None, ctx.fill(
                "Thank you for allowing me to participate in {his} care.\n\nSincerely,\n\nDr. Y"))])


def _other(ctx: _Ctx) -> list[Block]:
    return ([_block("subjective", _hpi(ctx, follow_up=True))] + _opt(ctx, 0.5, "medications", _medications)
            + _opt(ctx, 0.4, "allergies", _allergies) + _assessment_and_plan(ctx))


# note type: weight, plan, title lines (without a colon, so no headers)
NOTE_TYPES = {"hp_consult": (24, _hp_consult, "HISTORY AND PHYSICAL|CONSULTATION|Consult note"),
              "progress_soap": (20, _progress, "PROGRESS NOTE|Follow-up visit|OFFICE VISIT"),
              "discharge_summary": (14, _discharge, "DISCHARGE SUMMARY|Discharge summary"),
              "operative_procedure": (13, _operative, "OPERATIVE REPORT|PROCEDURE NOTE|Operative note"),
              "radiology": (11, _radiology, "RADIOLOGY REPORT|Imaging report"),
              "emergency": (12, _emergency, "EMERGENCY DEPARTMENT NOTE|ER REPORT|ED provider note"),
              "letter": (3, _letter, ""),
              "other": (3, _other, "TELEPHONE ENCOUNTER|NURSE VISIT|PREOPERATIVE EVALUATION|Physical therapy note")}


# --- layout --------------------------------------------------------------------------------------

class _Page:
    """Text being laid out, with the gold spans and header ranges at their final offsets."""

    def __init__(self) -> None:
        self.chunks: list[str] = []
        self.pos = 0
        self.spans: list[Span] = []
        self.headers: list[list[int]] = []

    def add(self, text: str) -> None:
        self.chunks.append(text)
        self.pos += len(text)

    def header(self, words: str) -> None:
        self.headers.append([self.pos, self.pos + len(words) + 1])
        self.add(words + ":")

    def section(self, label: str | None, frags: Frags) -> None:
        """Write ``frags``; a section span covers them from first to last non-space character."""
        start, content = self.pos, _text(frags)
        for frag in frags:
            if isinstance(frag, _Ent):
                unit = {"unit": UNITS[frag.label]} if frag.label in UNITS else {}
                attrs = {"value": norm.normalize(frag.label, frag.text), **unit, **frag.attrs}
                self.spans.append(Span(self.pos, self.pos + len(frag.text), frag.label, GOLD, attrs))
            self.add(_text([frag]))
        if label and content.strip():
            lead = len(content) - len(content.lstrip())
            self.spans.append(Span(start + lead, start + len(content.rstrip()), label, GOLD))


def _lay_out(ctx: _Ctx, blocks: list[Block], style: str, layout: str, title: str) -> _Page:
    """A title line, then the blocks: header lines ("block"), headers inline ("inline"), headers
    run into one paragraph ("runin"); without headers, bare paragraphs or one run-on dictation
    ("runon"), where every section ends with a period."""
    page, r = _Page(), ctx.r
    if title:
        page.add(title + r.choice(["\n", "\n\n"]))
    gap = {"block": "\n\n", "inline": r.choice(["\n", "\n\n"]), "paragraphs": r.choice(["\n", "\n\n"])}.get(layout)
    for i, (kind, label, frags) in enumerate(blocks):
        if i:
            page.add(gap or ("\n\n" if r.random() < 0.12 else " "))
        if kind in HEADERS and ctx.headed:
            _, schema, other = HEADERS[kind]
            words = r.choice(schema) if style == "schema" else r.choice(other)
            page.header(words.upper() if style == "other" and r.random() < 0.2 else words)
            page.add("\n" if layout == "block" or "\n" in _text(frags) else r.choice([" ", " ", "  "]))
        if layout in ("runin", "runon") and _text(frags).rstrip()[-1:] not in ".!?":
            frags = frags + ["."]
        page.section(label, frags)
    return page


def _patient(seed: int, pid: int) -> dict[str, Any]:
    """Who the patient is, the same in each of the patient's notes: age, sex, conditions,
    operations and allergies, drawn from the patient's own random stream."""
    r = random.Random(f"{seed}:patient:{pid}")
    male, roll = r.random() < 0.48, r.random()
    months = roll < 0.03
    age = r.randint(2, 11) if months else r.randint(2, 17) if roll < 0.1 else int(min(96, max(18, r.gauss(58, 17))))
    adult = age >= 18 and not months
    conditions = [c for c in r.sample(CONDITIONS, r.randint(0, 5)) if male or c[1] != "BPH"] if adult else []
    surgeries = [s for s in r.sample(SURGERIES, r.randint(0, 3))
                 if not male or s not in ("hysterectomy", "cesarean section", "tubal ligation")] if adult else []
    return dict(male=male, age=age, months=months, conditions=conditions, surgeries=surgeries,
                allergies=r.sample(ALLERGENS, r.choice([0, 0, 0, 0, 0, 1, 1, 2, 3])))


def _note(seed: int, i: int) -> Note:
    r = random.Random(f"{seed}:{i}")
    pid = i // 3 * 2 + (i % 3 == 2)  # three notes for every two patients
    note_type = r.choices(list(NOTE_TYPES), weights=[t[0] for t in NOTE_TYPES.values()])[0]
    _, plan, titles = NOTE_TYPES[note_type]
    if note_type == "letter":
        style, layout = "none", "paragraphs"
    else:
        style = r.choice(["schema", "other", "none"])
        layout = r.choice(["block", "inline", "runin"] if style != "none" else ["paragraphs", "runon"])
    ctx = _Ctx(r, **_patient(seed, pid), headed=style != "none", thorough=r.random() < 0.15,
               lists=layout in ("block", "inline", "paragraphs") and note_type != "letter")
    ctx.case = r.choice([case for case in CASES if case[3] or not (ctx.months or ctx.age < 18)])
    blocks = plan(ctx)
    title = r.choice(_split(titles)) if titles and r.random() < 0.4 else ""
    page = _lay_out(ctx, blocks, style, layout, title)
    return Note(id=f"syn-{i + 1:06d}", text="".join(page.chunks), patient_id=f"synp-{pid:05d}", note_type=note_type,
                spans=page.spans, meta={"header_spans": page.headers, "header_style": style, "layout": layout})


def read(path: Any = None, *, n: int = 200, seed: int = 0) -> Iterator[Note]:
    """Yield ``n`` synthetic notes; ``path`` is ignored (every recipe takes one)."""
    for i in range(n):
        yield _note(seed, i)
